//! One SSH connection with one SFTP session on it: connecting (host key check,
//! key login, subsystem), and copying one remote file into a sink.
//!
//! Reads are pipelined by russh-sftp's `File`: it probes the server's read size
//! once, then keeps up to `READS_IN_FLIGHT` read requests outstanding (each as large
//! as the server's `limits@openssh.com` allow, ~255 KiB against OpenSSH).

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use meter::Metered;
use russh::client::{self, Handle};
use russh::keys::PrivateKeyWithHashAlg;
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::host_key::HostKeyCheck;
use super::{FetchConfig, FetchError, FetchSink};

/// Connecting, logging in and starting SFTP must finish within this.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A transfer that makes no progress for this long is broken.
pub(super) const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Read requests kept outstanding per file.
const READS_IN_FLIGHT: usize = 32;
/// Size of one local read from the pipelined file (one SFTP read reply fits).
const BUFFER: usize = 256 << 10;

pub(super) struct Connection {
    ssh: Handle<HostKeyCheck>,
    sftp: SftpSession,
}

impl Connection {
    /// Whether the SSH connection is gone (the next fetch must reconnect).
    pub(super) fn is_closed(&self) -> bool {
        self.ssh.is_closed()
    }

    /// Connects, checks the host key, logs in with the key, starts SFTP.
    pub(super) async fn open(config: &FetchConfig) -> Result<Connection, FetchError> {
        let refusal = Arc::new(Mutex::new(None));
        let check = HostKeyCheck { policy: config.host_key.clone(), refusal: refusal.clone() };
        let work = async {
            let socket = TcpStream::connect(config.addr)
                .await
                .map_err(|e| FetchError::Connect { addr: config.addr, reason: e.to_string() })?;
            let _ = socket.set_nodelay(true);
            let socket = Metered::new(socket, config.traffic.clone());
            let mut ssh =
                client::connect_stream(Arc::new(ssh_config()), socket, check).await.map_err(|e| {
                    match refusal.lock().unwrap_or_else(PoisonError::into_inner).take() {
                        Some(reason) => FetchError::HostKey { addr: config.addr, reason },
                        None => FetchError::Connect { addr: config.addr, reason: e.to_string() },
                    }
                })?;
            login(&mut ssh, config).await?;
            let broken = |e: &dyn std::fmt::Display| FetchError::Connect { addr: config.addr, reason: e.to_string() };
            let channel = ssh.channel_open_session().await.map_err(|e| broken(&e))?;
            channel.request_subsystem(true, "sftp").await.map_err(|e| broken(&e))?;
            let sftp =
                SftpSession::new_with_config(channel.into_stream(), sftp_config()).await.map_err(|e| broken(&e))?;
            Ok(Connection { ssh, sftp })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, work).await.map_err(|_| FetchError::Connect {
            addr: config.addr,
            reason: format!("no SFTP session within {} s", CONNECT_TIMEOUT.as_secs()),
        })?
    }

    /// Opens `path` for reading.
    pub(super) async fn open_file(&self, path: &str) -> Result<russh_sftp::client::fs::File, FetchError> {
        match tokio::time::timeout(STALL_TIMEOUT, self.sftp.open(path)).await {
            Ok(Ok(file)) => Ok(file),
            Ok(Err(e)) => Err(sftp_error(path, e)),
            Err(_) => Err(FetchError::Stalled { path: path.to_owned(), seconds: STALL_TIMEOUT.as_secs() }),
        }
    }
}

impl Connection {
    /// Creates (or truncates) `path` for writing.
    pub(super) async fn create_file(&self, path: &str) -> Result<russh_sftp::client::fs::File, FetchError> {
        step(path, self.sftp.create(path)).await
    }

    /// Removes `path`; a file that is not there is no error.
    pub(super) async fn remove_if_present(&self, path: &str) -> Result<(), FetchError> {
        let absent = |e: &SftpError| matches!(e, SftpError::Status(s) if s.status_code == russh_sftp::protocol::StatusCode::NoSuchFile);
        match tokio::time::timeout(STALL_TIMEOUT, self.sftp.remove_file(path)).await {
            Ok(Err(e)) if absent(&e) => Ok(()),
            Ok(result) => result.map_err(|e| sftp_error(path, e)),
            Err(_) => Err(FetchError::Stalled { path: path.to_owned(), seconds: STALL_TIMEOUT.as_secs() }),
        }
    }

    pub(super) async fn rename(&self, from: &str, to: &str) -> Result<(), FetchError> {
        step(from, self.sftp.rename(from, to)).await
    }
}

/// One SFTP request with the stall deadline.
async fn step<T>(
    path: &str,
    request: impl std::future::Future<Output = Result<T, SftpError>>,
) -> Result<T, FetchError> {
    match tokio::time::timeout(STALL_TIMEOUT, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(sftp_error(path, e)),
        Err(_) => Err(FetchError::Stalled { path: path.to_owned(), seconds: STALL_TIMEOUT.as_secs() }),
    }
}

/// Streams the local `source` into `file` (at `path`) and closes it (the server
/// makes it durable on CLOSE); returns the bytes written.
pub(super) async fn send(
    mut file: russh_sftp::client::fs::File,
    path: &str,
    source: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
) -> Result<u64, FetchError> {
    use tokio::io::AsyncWriteExt;
    let mut buffer = vec![0u8; BUFFER];
    let mut total = 0u64;
    let broken = |e: std::io::Error| FetchError::Broken { path: path.to_owned(), reason: e.to_string() };
    loop {
        let n = source.read(&mut buffer).await.map_err(FetchError::Sink)?;
        if n == 0 {
            break;
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        match tokio::time::timeout(STALL_TIMEOUT, file.write_all(chunk)).await {
            Ok(result) => result.map_err(broken)?,
            Err(_) => return Err(FetchError::Stalled { path: path.to_owned(), seconds: STALL_TIMEOUT.as_secs() }),
        }
        total += n as u64;
    }
    match tokio::time::timeout(STALL_TIMEOUT, file.shutdown()).await {
        Ok(result) => result.map_err(broken)?,
        Err(_) => return Err(FetchError::Stalled { path: path.to_owned(), seconds: STALL_TIMEOUT.as_secs() }),
    }
    Ok(total)
}

/// Copies `file` (at `path`) into `sink`; more bytes than `expected` is an error
/// as soon as they arrive (the rest is not read).
pub(super) async fn copy(
    mut file: russh_sftp::client::fs::File,
    path: &str,
    expected: u64,
    sink: &mut dyn FetchSink,
) -> Result<u64, FetchError> {
    let mut buffer = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        let n = match tokio::time::timeout(STALL_TIMEOUT, file.read(&mut buffer)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(FetchError::Broken { path: path.to_owned(), reason: e.to_string() }),
            Err(_) => return Err(FetchError::Stalled { path: path.to_owned(), seconds: STALL_TIMEOUT.as_secs() }),
        };
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > expected {
            return Err(FetchError::Size { path: path.to_owned(), expected, got: total });
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        sink.write(chunk).await.map_err(FetchError::Sink)?;
    }
    // Best effort: a failed close does not make the bytes wrong.
    let _ = tokio::time::timeout(STALL_TIMEOUT, file.close()).await;
    if total != expected {
        return Err(FetchError::Size { path: path.to_owned(), expected, got: total });
    }
    Ok(total)
}

async fn login(ssh: &mut Handle<HostKeyCheck>, config: &FetchConfig) -> Result<(), FetchError> {
    let refused = |reason: String| FetchError::Login { user: config.user.clone(), reason };
    let rsa_hash = ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
    let key = PrivateKeyWithHashAlg::new(Arc::new(config.key.clone()), rsa_hash);
    let result = ssh.authenticate_publickey(config.user.clone(), key).await.map_err(|e| refused(e.to_string()))?;
    if result.success() { Ok(()) } else { Err(refused("public key refused".into())) }
}

/// A large receive window: downloads are the whole point of this connection.
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
        maximum_packet_size: 65535,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 2,
        nodelay: true,
        preferred,
        ..client::Config::default()
    }
}

fn sftp_config() -> russh_sftp::client::Config {
    russh_sftp::client::Config {
        max_concurrent_reads: READS_IN_FLIGHT,
        request_timeout_secs: STALL_TIMEOUT.as_secs(),
        ..russh_sftp::client::Config::default()
    }
}

fn sftp_error(path: &str, error: SftpError) -> FetchError {
    match error {
        SftpError::Status(status) => FetchError::Remote {
            path: path.to_owned(),
            reason: format!("{}: {}", status.status_code, status.error_message),
        },
        other => FetchError::Broken { path: path.to_owned(), reason: other.to_string() },
    }
}
