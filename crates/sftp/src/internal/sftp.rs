//! The SFTP requests of one internal session: payloads read-only with positioned
//! reads (`pread`, so pipelined reads at any offset need no seeking state), the
//! outbound directory read-write with positioned writes, fsync on CLOSE.

use std::collections::HashMap;
use std::fs::{File as DiskFile, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use russh_sftp::protocol::{Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version};
use russh_sftp::server::StatusReply;

use super::PayloadStore;
use super::target::{OUTBOUND, PAYLOADS, Target, blocking, denied, dir_attrs, disk_attrs, normalise, resolve};
use crate::listen::{Busy, BusyGuard};

/// Longest READ answered (fits a 256 KiB packet).
const MAX_READ: u32 = 255 * 1024;
const ENTRIES_PER_READDIR: usize = 100;

enum Open {
    /// `written` is set (with its busy guard) when the file was opened for writing.
    File {
        file: Arc<DiskFile>,
        written: Option<(PathBuf, BusyGuard)>,
    },
    Dir {
        entries: std::vec::IntoIter<File>,
    },
}

/// The SFTP handler of one internal session.
pub(crate) struct InternalSftp {
    store: Arc<dyn PayloadStore>,
    handles: HashMap<String, Open>,
    next: u64,
    limit: usize,
    busy: Busy,
}

fn ok(id: u32) -> Status {
    Status { id, status_code: StatusCode::Ok, error_message: "Ok".to_owned(), language_tag: "en-US".to_owned() }
}

fn bad_handle() -> StatusReply {
    StatusCode::Failure.with_message("invalid handle")
}

impl InternalSftp {
    pub(crate) fn new(store: Arc<dyn PayloadStore>, limit: usize, busy: Busy) -> Self {
        InternalSftp { store, handles: HashMap::new(), next: 0, limit, busy }
    }

    fn insert(&mut self, open: Open) -> Result<String, StatusReply> {
        if self.handles.len() >= self.limit {
            return Err(StatusCode::Failure.with_message("too many open handles"));
        }
        self.next += 1;
        let name = self.next.to_string();
        self.handles.insert(name.clone(), open);
        Ok(name)
    }

    fn file(&self, handle: &str) -> Result<Arc<DiskFile>, StatusReply> {
        match self.handles.get(handle) {
            Some(Open::File { file, .. }) => Ok(file.clone()),
            _ => Err(bad_handle()),
        }
    }

    fn outbound(&self, path: &str) -> Result<PathBuf, StatusReply> {
        match resolve(self.store.as_ref(), path)? {
            Target::Outbound(path) => Ok(path),
            _ => Err(denied("only files in /outbound may be changed")),
        }
    }

    async fn open_file(&mut self, filename: &str, flags: OpenFlags) -> Result<Open, StatusReply> {
        let writing = flags.intersects(OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREATE | OpenFlags::TRUNCATE);
        let path = match resolve(self.store.as_ref(), filename)? {
            Target::Payload(path) if !writing => path,
            Target::Outbound(path) => path,
            Target::Payload(_) => return Err(denied("payloads are read-only")),
            _ => return Err(StatusCode::Failure.with_message("not a file")),
        };
        let options = if writing { OpenOptions::from(flags) } else { read_only() };
        let opened = path.clone();
        let file = blocking(move || options.open(&opened)).await?;
        let written = writing.then(|| (path, self.busy.enter()));
        Ok(Open::File { file: Arc::new(file), written })
    }

    async fn list(&self, target: Target) -> Result<Vec<File>, StatusReply> {
        match target {
            Target::Root => Ok(vec![File::new(PAYLOADS, dir_attrs(false)), File::new(OUTBOUND, dir_attrs(true))]),
            Target::PayloadsDir => Ok(Vec::new()),
            Target::OutboundDir(dir) => blocking(move || list_dir(&dir)).await,
            Target::Payload(_) | Target::Outbound(_) => Err(StatusCode::Failure.with_message("not a directory")),
        }
    }
}

fn read_only() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true);
    options
}

/// The files of the outbound directory whose names a client could use.
fn list_dir(dir: &std::path::Path) -> std::io::Result<Vec<File>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if envelope::validate_segment(&name).is_err() {
            continue;
        }
        if let Ok(meta) = entry.metadata() {
            files.push(File::new(name, FileAttributes::from(&meta)));
        }
    }
    Ok(files)
}

/// Reads up to `len` bytes at `offset`; empty at the end of the file.
fn read_at(file: &DiskFile, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut data = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut data[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(filled);
    Ok(data)
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(path: &std::path::Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => DiskFile::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

impl russh_sftp::server::Handler for InternalSftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported.into()
    }

    async fn init(&mut self, _version: u32, _ext: HashMap<String, String>) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        flags: OpenFlags,
        _: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let open = self.open_file(&filename, flags).await?;
        Ok(Handle { id, handle: self.insert(open)? })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            Some(Open::File { file, written: Some((path, busy)) }) => {
                self.busy.release_after_reply(busy);
                blocking(move || file.sync_all().and_then(|()| sync_dir(&path))).await?;
                Ok(ok(id))
            }
            Some(_) => Ok(ok(id)),
            None => Err(bad_handle()),
        }
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, Self::Error> {
        let file = self.file(&handle)?;
        let len = len.min(MAX_READ) as usize;
        let data = blocking(move || read_at(&file, offset, len)).await?;
        if data.is_empty() {
            return Err(StatusCode::Eof.into());
        }
        Ok(Data { id, data })
    }

    async fn write(&mut self, id: u32, handle: String, offset: u64, data: Vec<u8>) -> Result<Status, Self::Error> {
        let Some(Open::File { file, written: Some(_) }) = self.handles.get(&handle) else {
            return Err(bad_handle());
        };
        let file = file.clone();
        blocking(move || file.write_all_at(&data, offset)).await?;
        Ok(ok(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = match resolve(self.store.as_ref(), &path)? {
            Target::Root | Target::PayloadsDir => dir_attrs(false),
            Target::Payload(path) | Target::OutboundDir(path) | Target::Outbound(path) => disk_attrs(path).await?,
        };
        Ok(Attrs { id, attrs })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let file = self.file(&handle)?;
        let meta = blocking(move || file.metadata()).await?;
        Ok(Attrs { id, attrs: FileAttributes::from(&meta) })
    }

    async fn setstat(&mut self, id: u32, _path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(ok(id))
    }

    async fn fsetstat(&mut self, id: u32, _handle: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let target = resolve(self.store.as_ref(), &path)?;
        let entries = self.list(target).await?.into_iter();
        Ok(Handle { id, handle: self.insert(Open::Dir { entries })? })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        let Some(Open::Dir { entries }) = self.handles.get_mut(&handle) else { return Err(bad_handle()) };
        let files: Vec<File> = entries.by_ref().take(ENTRIES_PER_READDIR).collect();
        if files.is_empty() {
            return Err(StatusCode::Eof.into());
        }
        Ok(Name { id, files })
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let path = self.outbound(&filename)?;
        blocking(move || std::fs::remove_file(&path).and_then(|()| sync_dir(&path))).await?;
        Ok(ok(id))
    }

    async fn rename(&mut self, id: u32, from: String, to: String) -> Result<Status, Self::Error> {
        let (from, to) = (self.outbound(&from)?, self.outbound(&to)?);
        blocking(move || std::fs::rename(&from, &to).and_then(|()| sync_dir(&to))).await?;
        Ok(ok(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        Ok(Name { id, files: vec![File::dummy(normalise(&path)?)] })
    }
}
