//! The [`Session`] operations over SFTP.

use std::future::Future;

use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{OpenFlags, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};

use super::SftpSession;
use crate::error::RemoteError;
use crate::pump::{Direction, pump};
use crate::session::{RemoteEntry, Session, check_name, join, temporary_name};

/// SFTP's errors as [`RemoteError`]s: a missing file is `NotFound`; the
/// generic `Failure` (a full disk, a busy file) is transient; other refusals are
/// permanent; a lost connection or timeout is transient.
fn classify(what: &str, path: &str, error: SftpError) -> RemoteError {
    match error {
        SftpError::Status(status) => {
            let reply = format!("{}: {}", status.status_code, status.error_message);
            match status.status_code {
                StatusCode::NoSuchFile => RemoteError::NotFound { path: path.to_owned(), reply },
                StatusCode::Failure => RemoteError::Refused { what: what.to_owned(), reply, transient: true },
                StatusCode::NoConnection | StatusCode::ConnectionLost => {
                    RemoteError::Broken { what: what.to_owned(), reason: reply }
                }
                _ => RemoteError::Refused { what: what.to_owned(), reply, transient: false },
            }
        }
        SftpError::Timeout => RemoteError::Broken { what: what.to_owned(), reason: "request timed out".into() },
        SftpError::Limited(reason) => RemoteError::Refused { what: what.to_owned(), reply: reason, transient: false },
        other => RemoteError::Broken { what: what.to_owned(), reason: other.to_string() },
    }
}

impl SftpSession {
    /// One request, bounded by the I/O timeout, its failure classified.
    async fn step<T>(
        &self,
        what: &str,
        path: &str,
        work: impl Future<Output = Result<T, SftpError>>,
    ) -> Result<T, RemoteError> {
        match tokio::time::timeout(self.io, work).await {
            Ok(result) => result.map_err(|e| classify(what, path, e)),
            Err(_) => Err(RemoteError::Timeout { what: format!("{what} {path}"), after: self.io }),
        }
    }

    /// Writes `source` to a new file at `path` (which must not exist), synced and closed.
    async fn store(&self, path: &str, source: &mut (dyn AsyncRead + Unpin + Send)) -> Result<u64, RemoteError> {
        let flags = OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE;
        let mut file = self.step("open", path, self.sftp.open_with_flags(path, flags)).await?;
        let what = format!("upload {path}");
        let sent = pump(source, &mut file, Direction::Upload, self.io, &what).await?;
        self.step("fsync", path, file.sync_all()).await?;
        match tokio::time::timeout(self.io, file.close()).await {
            Ok(Ok(())) => Ok(sent),
            Ok(Err(e)) => Err(RemoteError::Broken { what: format!("close {path}"), reason: e.to_string() }),
            Err(_) => Err(RemoteError::Timeout { what: format!("close {path}"), after: self.io }),
        }
    }

    /// Renames `from` onto `to`, removing an existing `to` first if the server
    /// will not replace it.
    async fn replace(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let first = match self.step("rename", from, self.sftp.rename(from, to)).await {
            Ok(()) => return Ok(()),
            Err(e @ RemoteError::Refused { .. }) => e,
            Err(e) => return Err(e),
        };
        if self.step("stat", to, self.sftp.metadata(to)).await.is_err() {
            return Err(first);
        }
        tracing::debug!(file = %to, "replacing an existing file");
        self.step("remove", to, self.sftp.remove_file(to)).await?;
        self.step("rename", from, self.sftp.rename(from, to)).await
    }

    /// Best effort: removes a temporary upload after a failure.
    async fn discard(&self, path: &str) {
        if let Err(e) = self.step("remove", path, self.sftp.remove_file(path)).await {
            tracing::debug!(file = %path, error = %e, "could not remove a failed upload's temporary file");
        }
    }
}

#[async_trait::async_trait]
impl Session for SftpSession {
    async fn list(&mut self, dir: &str) -> Result<Vec<RemoteEntry>, RemoteError> {
        let target = if dir.is_empty() { "." } else { dir };
        let entries = self.step("list", target, self.sftp.read_dir(target)).await?;
        Ok(entries
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| RemoteEntry { name: entry.file_name(), size: entry.metadata().size, is_file: true })
            .collect())
    }

    async fn download(&mut self, path: &str, sink: &mut (dyn AsyncWrite + Unpin + Send)) -> Result<u64, RemoteError> {
        let mut file = self.step("open", path, self.sftp.open(path)).await?;
        let received = pump(&mut file, sink, Direction::Download, self.io, &format!("download {path}")).await?;
        if let Ok(Err(e)) = tokio::time::timeout(self.io, file.close()).await {
            tracing::debug!(file = %path, error = %e, "closing a downloaded file failed");
        }
        Ok(received)
    }

    async fn upload(
        &mut self,
        dir: &str,
        name: &str,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<u64, RemoteError> {
        check_name(name)?;
        let temporary = join(dir, &temporary_name(name));
        let target = join(dir, name);
        let result = match self.store(&temporary, source).await {
            Ok(sent) => self.replace(&temporary, &target).await.map(|()| sent),
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.discard(&temporary).await;
        }
        result
    }

    async fn delete(&mut self, path: &str) -> Result<(), RemoteError> {
        self.step("remove", path, self.sftp.remove_file(path)).await
    }

    async fn rename(&mut self, from: &str, to: &str) -> Result<(), RemoteError> {
        self.step("rename", from, self.sftp.rename(from, to)).await
    }

    async fn close(self: Box<Self>) -> Result<(), RemoteError> {
        let closed = self.step("close", "", self.sftp.close()).await;
        let _ = self.ssh.disconnect(russh::Disconnect::ByApplication, "", "en").await;
        closed
    }
}
