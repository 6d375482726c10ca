//! The SFTP requests of one logged-in partner session, each mapped to the gateway.
//!
//! Client paths are resolved against the home with [`VPath::resolve`] (absolute
//! paths are relative to the home). Uploads are sequential streams: a WRITE must
//! start where the last one ended, and CLOSE answers OK only once
//! [`partner::Upload::commit`] returned `Ok` (payload fsynced, envelope queued).
//! Downloads are sequential too; reads past the end answer EOF, as clients that
//! pipeline reads expect. SETSTAT is accepted and ignored (`put -p`).

use std::sync::Arc;

use partner::{Gateway, Session, VPath};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, FileMode, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::handles::{Handles, Listing, Open, Reading, Writing};
use super::reply::{attrs, failure, file, status};
use crate::listen::Busy;

/// Longest READ answered (OpenSSH's own server limit; fits a 256 KiB packet).
const MAX_READ: u32 = 255 * 1024;
/// Entries per READDIR answer, so a NAME packet stays well below 256 KiB.
const ENTRIES_PER_READDIR: usize = 100;

/// The SFTP handler of one partner session.
pub(crate) struct PartnerSftp {
    pub gateway: Arc<dyn Gateway>,
    pub session: Session,
    pub handles: Handles,
    pub busy: Busy,
    pub shutdown: CancellationToken,
}

fn resolve(path: &str) -> Result<VPath, StatusReply> {
    VPath::resolve(&VPath::root(), path).map_err(|e| status(&e))
}

fn ok(id: u32) -> Status {
    Status { id, status_code: StatusCode::Ok, error_message: "Ok".to_owned(), language_tag: "en-US".to_owned() }
}

fn bad_handle() -> StatusReply {
    failure("invalid handle")
}

impl PartnerSftp {
    async fn open_write(&mut self, path: VPath) -> Result<Open, StatusReply> {
        if self.shutdown.is_cancelled() {
            return Err(failure("server shutting down"));
        }
        let upload = self.gateway.begin_upload(&self.session, &path).await.map_err(|e| status(&e))?;
        Ok(Open::Writing(Writing { path, upload, _busy: self.busy.enter() }))
    }

    async fn open_read(&mut self, path: VPath) -> Result<Open, StatusReply> {
        let entry = self.gateway.stat(&self.session, &path).await.map_err(|e| status(&e))?;
        let reader = self.gateway.open_read(&self.session, &path).await.map_err(|e| status(&e))?;
        Ok(Open::Reading(Reading { entry, reader, position: 0, eof: false }))
    }

    async fn commit(&mut self, writing: Writing) -> Result<(), StatusReply> {
        let Writing { path, upload, _busy: busy } = writing;
        // Shutdown waits until the answer to this CLOSE is on its way.
        self.busy.release_after_reply(busy);
        match upload.commit().await {
            Ok(receipt) => {
                let user = &self.session.login.user;
                tracing::info!(message = "SFTP upload committed", %user, path = %path, size = receipt.size, id = %receipt.id);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(message = "SFTP upload not committed", user = %self.session.login.user, path = %path, error = %e);
                Err(status(&e))
            }
        }
    }
}

/// Reads the next chunk of a download: at most `len` bytes from `offset`, which
/// must be where the previous read ended.
async fn read_chunk(reading: &mut Reading, offset: u64, len: u32) -> Result<Vec<u8>, StatusReply> {
    if reading.eof && offset >= reading.position {
        return Err(StatusCode::Eof.into());
    }
    if offset != reading.position {
        return Err(failure("non-sequential read not supported"));
    }
    let mut data = vec![0; len.min(MAX_READ) as usize];
    let mut filled = 0;
    while filled < data.len() {
        let n = reading.reader.read(&mut data[filled..]).await.map_err(|_| failure("read failed"))?;
        if n == 0 {
            reading.eof = true;
            break;
        }
        filled += n;
    }
    if filled == 0 {
        return Err(StatusCode::Eof.into());
    }
    data.truncate(filled);
    reading.position += filled as u64;
    Ok(data)
}

fn writing_attrs(writing: &Writing) -> FileAttributes {
    FileAttributes {
        size: Some(writing.upload.written()),
        permissions: Some(FileMode::REG.bits() | 0o644),
        ..FileAttributes::default()
    }
}

impl russh_sftp::server::Handler for PartnerSftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported.into()
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: std::collections::HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        flags: OpenFlags,
        _: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        if !self.handles.has_room() {
            return Err(failure("too many open handles"));
        }
        let path = resolve(&filename)?;
        let open =
            if flags.contains(OpenFlags::WRITE) { self.open_write(path).await? } else { self.open_read(path).await? };
        Ok(Handle { id, handle: self.handles.insert(open) })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            None => Err(bad_handle()),
            Some(Open::Writing(writing)) => self.commit(writing).await.map(|()| ok(id)),
            Some(_) => Ok(ok(id)),
        }
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, Self::Error> {
        let Some(Open::Reading(reading)) = self.handles.get_mut(&handle) else { return Err(bad_handle()) };
        read_chunk(reading, offset, len).await.map(|data| Data { id, data })
    }

    async fn write(&mut self, id: u32, handle: String, offset: u64, data: Vec<u8>) -> Result<Status, Self::Error> {
        let Some(Open::Writing(writing)) = self.handles.get_mut(&handle) else { return Err(bad_handle()) };
        if offset != writing.upload.written() {
            return Err(failure("non-sequential write not supported"));
        }
        writing.upload.write(&data).await.map_err(|e| status(&e))?;
        Ok(ok(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let path = resolve(&path)?;
        let entry = self.gateway.stat(&self.session, &path).await.map_err(|e| status(&e))?;
        Ok(Attrs { id, attrs: attrs(&entry) })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let attrs = match self.handles.get_mut(&handle) {
            Some(Open::Reading(reading)) => attrs(&reading.entry),
            Some(Open::Writing(writing)) => writing_attrs(writing),
            Some(Open::Listing(_)) => FileAttributes::dummy(),
            None => return Err(bad_handle()),
        };
        Ok(Attrs { id, attrs })
    }

    async fn setstat(&mut self, id: u32, _path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(ok(id))
    }

    async fn fsetstat(&mut self, id: u32, _handle: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        if !self.handles.has_room() {
            return Err(failure("too many open handles"));
        }
        let path = resolve(&path)?;
        let entries = self.gateway.list(&self.session, &path).await.map_err(|e| status(&e))?;
        let listing = Listing { entries: entries.into_iter() };
        Ok(Handle { id, handle: self.handles.insert(Open::Listing(listing)) })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        let Some(Open::Listing(listing)) = self.handles.get_mut(&handle) else { return Err(bad_handle()) };
        let files: Vec<File> = listing.entries.by_ref().take(ENTRIES_PER_READDIR).map(|e| file(&e)).collect();
        if files.is_empty() {
            return Err(StatusCode::Eof.into());
        }
        Ok(Name { id, files })
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let path = resolve(&filename)?;
        self.gateway.remove(&self.session, &path).await.map_err(|e| status(&e))?;
        Ok(ok(id))
    }

    async fn mkdir(&mut self, id: u32, path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        let path = resolve(&path)?;
        self.gateway.mkdir(&self.session, &path).await.map_err(|e| status(&e))?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        let path = resolve(&path)?;
        self.gateway.rmdir(&self.session, &path).await.map_err(|e| status(&e))?;
        Ok(ok(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let path = resolve(&path)?;
        Ok(Name { id, files: vec![File::dummy(path.to_string())] })
    }

    async fn rename(&mut self, id: u32, from: String, to: String) -> Result<Status, Self::Error> {
        let (from, to) = (resolve(&from)?, resolve(&to)?);
        self.gateway.rename(&self.session, &from, &to).await.map_err(|e| status(&e))?;
        Ok(ok(id))
    }
}
