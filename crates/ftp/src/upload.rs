//! Streaming a `STOR` data connection into a [`partner::Upload`], and the reader adapter for
//! downloads.
//!
//! The data connection is read into a 256 KiB buffer that is filled completely before each
//! [`Upload::write`], so the spool sees few large writes whatever the TCP segmenting. The
//! upload is committed only when the data connection ended cleanly *and* the control
//! connection is still there to carry the 226; on any error the [`Upload`] is dropped
//! uncommitted, which discards the bytes.

use std::io;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use partner::{FsError, Upload};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use unftp_core::storage::{self, ErrorKind};

use crate::meta::storage_error;
use crate::probe::ControlProbe;

/// Size of one write into the spool (and of the download buffer).
pub(crate) const CHUNK: usize = 256 * 1024;

/// At most this much of a refused upload is read and discarded so that the client gets to
/// read the error reply instead of a reset ("broken pipe") in the middle of sending.
const DISCARD_LIMIT: u64 = 16 * 1024 * 1024;

/// The session's transfer buffer: allocated once per session, not per file (a fresh 256 KiB
/// allocation is an mmap plus page faults: a measurable part of a 4 KiB upload).
#[derive(Debug, Default)]
pub(crate) struct Buffer(Mutex<Vec<u8>>);

impl Buffer {
    /// Takes the buffer (or a new one, should two transfers ever overlap).
    fn take(&self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        buf.resize(CHUNK, 0);
        buf
    }

    fn give_back(&self, buf: Vec<u8>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = buf;
    }
}

/// Copies `input` into `upload` and commits it; returns the committed size.
pub(crate) async fn store<R: AsyncRead + Unpin>(
    input: R,
    upload: Result<Box<dyn Upload>, FsError>,
    control: &ControlProbe,
    buffer: &Buffer,
) -> storage::Result<u64> {
    let upload = match upload {
        Ok(upload) => upload,
        Err(e) => return Err(refuse(input, e).await),
    };
    let mut buf = buffer.take();
    let result = copy_and_commit(input, upload, control, &mut buf).await;
    buffer.give_back(buf);
    result
}

async fn copy_and_commit<R: AsyncRead + Unpin>(
    mut input: R,
    mut upload: Box<dyn Upload>,
    control: &ControlProbe,
    buf: &mut [u8],
) -> storage::Result<u64> {
    loop {
        let n = fill(&mut input, buf).await?;
        if n > 0
            && let Err(e) = upload.write(&buf[..n]).await
        {
            drop(upload);
            return Err(refuse(input, e).await);
        }
        if n < buf.len() {
            break;
        }
    }
    if control.client_gone() {
        return Err(storage::Error::new(ErrorKind::ConnectionClosed, "control connection closed during the upload"));
    }
    let receipt = upload.commit().await.map_err(storage_error)?;
    Ok(receipt.size)
}

/// Reads and discards what the client still sends (bounded), and gives the reply for `error`.
async fn refuse<R: AsyncRead + Unpin>(input: R, error: FsError) -> storage::Error {
    let _ = tokio::io::copy(&mut input.take(DISCARD_LIMIT), &mut tokio::io::sink()).await;
    storage_error(error)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
async fn fill<R: AsyncRead + Unpin>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Makes the gateway's download reader `Sync`, as libunftp requires. The mutex is never
/// locked: polling goes through `get_mut`.
pub(crate) struct SyncReader {
    inner: Mutex<Box<dyn AsyncRead + Send + Unpin>>,
}

impl SyncReader {
    pub fn new(inner: Box<dyn AsyncRead + Send + Unpin>) -> Self {
        SyncReader { inner: Mutex::new(inner) }
    }
}

impl AsyncRead for SyncReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let inner = self.get_mut().inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        Pin::new(inner).poll_read(cx, buf)
    }
}
