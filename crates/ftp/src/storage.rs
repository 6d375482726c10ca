//! [`GatewayFs`]: libunftp's `StorageBackend` over the [`Gateway`], one per session.
//!
//! libunftp hands absolute virtual paths (`/dir/file`, possibly with `..` or other junk from
//! the client); each is turned into a [`VPath`] by `VPath::resolve(&VPath::root(), path)`,
//! which refuses escapes and control characters (553). The session comes from the
//! [`FtpUser`] libunftp passes to every call. Restarts are not offered (no
//! `FEATURE_RESTART`): a non-zero offset is refused.

use std::fmt::{self, Debug};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use meter::{Meter, Metered};
use partner::{EntryKind, FsError, Gateway, VPath};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use unftp_core::storage::{self, ErrorKind, Fileinfo, StorageBackend};

use crate::FtpUser;
use crate::meta::{Meta, storage_error};
use crate::probe::ControlProbe;
use crate::upload::{Buffer, CHUNK, SyncReader, store};

/// The virtual home of one FTP session.
pub(crate) struct GatewayFs {
    pub gateway: Arc<dyn Gateway>,
    /// Counts the file bytes of the session's data connections (the control
    /// connection is libunftp's own socket and is not counted).
    pub meter: Meter,
    pub control: Arc<ControlProbe>,
    pub buffer: Buffer,
}

impl Debug for GatewayFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayFs").finish_non_exhaustive()
    }
}

/// The home path of a libunftp path.
fn vpath<P: AsRef<Path>>(path: P) -> storage::Result<VPath> {
    let text = path.as_ref().to_str().ok_or_else(|| storage_error(FsError::BadPath("path is not UTF-8".into())))?;
    VPath::resolve(&VPath::root(), text).map_err(storage_error)
}

fn no_restart(start_pos: u64) -> storage::Result<()> {
    match start_pos {
        0 => Ok(()),
        _ => Err(storage::Error::new(ErrorKind::CommandNotImplemented, "resume not supported")),
    }
}

#[async_trait]
impl StorageBackend<FtpUser> for GatewayFs {
    type Metadata = Meta;

    async fn metadata<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> storage::Result<Meta> {
        let entry = self.gateway.stat(&user.session, &vpath(path)?).await.map_err(storage_error)?;
        Ok(Meta::from(&entry))
    }

    async fn list<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &FtpUser,
        path: P,
    ) -> storage::Result<Vec<Fileinfo<PathBuf, Meta>>> {
        let dir = vpath(path)?;
        let entries = self.gateway.list(&user.session, &dir).await.map_err(storage_error)?;
        let base = PathBuf::from(dir.to_string());
        Ok(entries.iter().map(|e| Fileinfo { path: base.join(&e.name), metadata: Meta::from(e) }).collect())
    }

    async fn get_into<'a, P, W>(
        &self,
        user: &FtpUser,
        path: P,
        start_pos: u64,
        output: &'a mut W,
    ) -> storage::Result<u64>
    where
        W: AsyncWrite + Unpin + Sync + Send + ?Sized,
        P: AsRef<Path> + Send + Debug,
    {
        let reader = self.get(user, path, start_pos).await?;
        let mut reader = BufReader::with_capacity(CHUNK, reader);
        let mut output = Metered::new(output, self.meter.clone());
        Ok(tokio::io::copy_buf(&mut reader, &mut output).await?)
    }

    async fn get<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &FtpUser,
        path: P,
        start_pos: u64,
    ) -> storage::Result<Box<dyn AsyncRead + Send + Sync + Unpin>> {
        no_restart(start_pos)?;
        let reader = self.gateway.open_read(&user.session, &vpath(path)?).await.map_err(storage_error)?;
        Ok(Box::new(SyncReader::new(reader)))
    }

    async fn put<P: AsRef<Path> + Send + Debug, R: AsyncRead + Send + Sync + Unpin + 'static>(
        &self,
        user: &FtpUser,
        input: R,
        path: P,
        start_pos: u64,
    ) -> storage::Result<u64> {
        no_restart(start_pos)?;
        let path = vpath(path)?;
        let upload = self.gateway.begin_upload(&user.session, &path).await;
        let input = Metered::new(input, self.meter.clone());
        store(input, upload, &self.control, &self.buffer).await.inspect_err(|e| {
            tracing::info!(path = %path, session = %user, error = %e, "FTP upload not committed");
        })
    }

    async fn del<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> storage::Result<()> {
        self.gateway.remove(&user.session, &vpath(path)?).await.map_err(storage_error)
    }

    async fn mkd<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> storage::Result<()> {
        self.gateway.mkdir(&user.session, &vpath(path)?).await.map_err(storage_error)
    }

    async fn rename<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, from: P, to: P) -> storage::Result<()> {
        let (from, to) = (vpath(from)?, vpath(to)?);
        self.gateway.rename(&user.session, &from, &to).await.map_err(storage_error)
    }

    async fn rmd<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> storage::Result<()> {
        self.gateway.rmdir(&user.session, &vpath(path)?).await.map_err(storage_error)
    }

    async fn cwd<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> storage::Result<()> {
        let entry = self.gateway.stat(&user.session, &vpath(path)?).await.map_err(storage_error)?;
        match entry.kind {
            EntryKind::Directory => Ok(()),
            EntryKind::File => Err(storage_error(FsError::NotADirectory)),
        }
    }
}
