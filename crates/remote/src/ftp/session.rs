//! The [`Session`] operations over a logged-in FTP connection.

use std::future::Future;
use std::time::Duration;

use suppaftp::tokio::{AsyncRustlsStream, TransferStream};
use suppaftp::{FtpResult, Mode};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{FtpSession, listing, reply};
use crate::error::RemoteError;
use crate::pump::{Direction, pump};
use crate::session::{RemoteEntry, Session, check_name, check_path, join, temporary_name};

type Transfer = TransferStream<AsyncRustlsStream>;

/// "Command unknown" replies: try the older command instead.
const NOT_IMPLEMENTED: [u16; 3] = [500, 501, 502];

/// The listing commands, newest first.
#[derive(Clone, Copy, Debug)]
enum Listing {
    Mlsd,
    List,
    Nlst,
}

/// Runs one FTP step under the I/O timeout, classifying its failure.
async fn step<T>(
    io: Duration,
    what: &str,
    path: Option<&str>,
    work: impl Future<Output = FtpResult<T>>,
) -> Result<T, RemoteError> {
    match tokio::time::timeout(io, work).await {
        Ok(result) => result.map_err(|e| reply::classify(what, path, e)),
        Err(_) => Err(RemoteError::Timeout { what: what.to_owned(), after: io }),
    }
}

fn not_implemented(error: &RemoteError) -> bool {
    matches!(error, RemoteError::Refused { reply, .. }
        if reply::reply_code(reply).is_some_and(|code| NOT_IMPLEMENTED.contains(&code)))
}

impl FtpSession {
    /// After a data command was refused as unknown in EPSV mode: PASV from now
    /// on. True if the command should be tried again.
    fn fall_back_to_pasv(&mut self, error: &RemoteError) -> bool {
        if !(self.epsv && not_implemented(error)) {
            return false;
        }
        tracing::debug!(error = %error, "EPSV refused; using PASV from now on");
        self.ftp.set_mode(Mode::Passive);
        self.epsv = false;
        true
    }

    /// Opens a data connection for `RETR path` or `STOR path`.
    async fn transfer(&mut self, path: &str, upload: bool) -> Result<Transfer, RemoteError> {
        let what = if upload { format!("STOR {path}") } else { format!("RETR {path}") };
        loop {
            let result = if upload {
                step(self.io, &what, Some(path), self.ftp.put_with_stream(path)).await
            } else {
                step(self.io, &what, Some(path), self.ftp.retr_as_stream(path)).await
            };
            match result {
                Err(e) if self.fall_back_to_pasv(&e) => continue,
                other => return other,
            }
        }
    }

    /// The lines of one listing command for `dir` (the login directory if empty).
    async fn lines(&mut self, command: Listing, dir: &str) -> Result<Vec<String>, RemoteError> {
        let what = format!("{command:?} {dir}").to_uppercase();
        let arg = (!dir.is_empty()).then_some(dir);
        loop {
            let result = match command {
                Listing::Mlsd => step(self.io, &what, Some(dir), self.ftp.mlsd(arg)).await,
                Listing::List => step(self.io, &what, Some(dir), self.ftp.list(arg)).await,
                Listing::Nlst => step(self.io, &what, Some(dir), self.ftp.nlst(arg)).await,
            };
            match result {
                Err(e) if self.fall_back_to_pasv(&e) => continue,
                other => return other,
            }
        }
    }

    /// NLST names that SIZE confirms as files (SIZE refuses directories).
    async fn files_by_nlst(&mut self, dir: &str) -> Result<Vec<RemoteEntry>, RemoteError> {
        let lines = self.lines(Listing::Nlst, dir).await?;
        let mut entries = Vec::new();
        for name in lines.iter().filter_map(|line| listing::nlst_name(line)) {
            let path = join(dir, name);
            match step(self.io, "SIZE", None, self.ftp.size(&path)).await {
                Ok(size) => entries.push(RemoteEntry { name: name.to_owned(), size: Some(size as u64), is_file: true }),
                Err(RemoteError::Refused { transient: false, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(entries)
    }

    /// STOR `path` from `source`; the transfer's reply must be positive.
    async fn store(&mut self, path: &str, source: &mut (dyn AsyncRead + Unpin + Send)) -> Result<u64, RemoteError> {
        let mut stream = self.transfer(path, true).await?;
        let what = format!("STOR {path}");
        let sent = pump(source, &mut stream, Direction::Upload, self.io, &what).await?;
        step(self.io, &what, Some(path), stream.finish()).await?;
        Ok(sent)
    }

    /// Renames `from` onto `to`; a server that refuses to replace an existing
    /// `to` gets it deleted first.
    async fn replace(&mut self, from: &str, to: &str) -> Result<(), RemoteError> {
        let what = format!("RNFR {from} / RNTO {to}");
        let first = match step(self.io, &what, Some(from), self.ftp.rename(from, to)).await {
            Ok(()) => return Ok(()),
            Err(e @ RemoteError::Refused { transient: false, .. }) => e,
            Err(e) => return Err(e),
        };
        if step(self.io, "SIZE", None, self.ftp.size(to)).await.is_err() {
            return Err(first);
        }
        tracing::debug!(file = %to, "replacing an existing file");
        step(self.io, &format!("DELE {to}"), Some(to), self.ftp.rm(to)).await?;
        step(self.io, &what, Some(from), self.ftp.rename(from, to)).await
    }

    /// Best effort: removes a temporary upload after a failure.
    async fn discard(&mut self, path: &str) {
        if let Err(e) = step(self.io, "DELE", Some(path), self.ftp.rm(path)).await {
            tracing::debug!(file = %path, error = %e, "could not remove a failed upload's temporary file");
        }
    }
}

#[async_trait::async_trait]
impl Session for FtpSession {
    async fn list(&mut self, dir: &str) -> Result<Vec<RemoteEntry>, RemoteError> {
        check_path(dir)?;
        if self.mlsd {
            match self.lines(Listing::Mlsd, dir).await {
                Ok(lines) => return Ok(listing::from_mlsd(&lines)),
                Err(e) if not_implemented(&e) => self.mlsd = false,
                Err(e) => return Err(e),
            }
        }
        match self.lines(Listing::List, dir).await {
            Ok(lines) => match listing::from_list(&lines) {
                Some(entries) => Ok(entries),
                None => self.files_by_nlst(dir).await,
            },
            Err(e) if not_implemented(&e) => self.files_by_nlst(dir).await,
            Err(e) => Err(e),
        }
    }

    async fn download(&mut self, path: &str, sink: &mut (dyn AsyncWrite + Unpin + Send)) -> Result<u64, RemoteError> {
        check_path(path)?;
        let mut stream = self.transfer(path, false).await?;
        let what = format!("RETR {path}");
        let received = pump(&mut stream, sink, Direction::Download, self.io, &what).await?;
        step(self.io, &what, Some(path), stream.finish()).await?;
        Ok(received)
    }

    async fn upload(
        &mut self,
        dir: &str,
        name: &str,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<u64, RemoteError> {
        check_path(dir)?;
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
        check_path(path)?;
        step(self.io, &format!("DELE {path}"), Some(path), self.ftp.rm(path)).await
    }

    async fn rename(&mut self, from: &str, to: &str) -> Result<(), RemoteError> {
        check_path(from)?;
        check_path(to)?;
        step(self.io, &format!("RNFR {from} / RNTO {to}"), Some(from), self.ftp.rename(from, to)).await
    }

    async fn close(mut self: Box<Self>) -> Result<(), RemoteError> {
        step(self.io, "QUIT", None, self.ftp.quit()).await
    }
}
