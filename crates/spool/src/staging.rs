//! Streamed uploads: [`SledStagingFile`] (a [`StagingFile`] under `staging/`)
//! and the cleanup of unused [`StagedPayload`]s.

use std::path::PathBuf;

use async_trait::async_trait;
use tokio::task::JoinHandle;

use crate::api::{SpoolError, StagedPayload, StagingFile};
use crate::direct::{Block, DiskWriter};
use crate::payloads::remove_quietly;
use crate::quota::Reservation;

/// A staging file being written. Every byte is reserved against the quota before
/// it is written; dropping the file unfinished deletes it and gives the bytes back.
///
/// Bytes fill a [`Block`]; a full block goes to a blocking task that writes it
/// (direct I/O, see `direct.rs`) while the next one fills, so the caller's work
/// (receiving, hashing) and the disk overlap. At most one block is in flight.
pub(crate) struct SledStagingFile {
    path: PathBuf,
    filling: Block,
    disk: Disk,
    written: u64,
    /// `None` once finished (ownership moved into the [`StagedPayload`]).
    reservation: Option<Reservation>,
}

/// The writer, with the spare block, or the task that has both while it writes.
enum Disk {
    Idle(DiskWriter, Block),
    Writing(JoinHandle<std::io::Result<(DiskWriter, Block)>>),
    /// A write failed (or the file is finished): nothing more is written.
    Broken,
}

impl SledStagingFile {
    pub(crate) async fn create(path: PathBuf, reservation: Reservation) -> Result<SledStagingFile, SpoolError> {
        let at = path.clone();
        let writer = blocking(move || DiskWriter::create(&at)).await?;
        Ok(SledStagingFile {
            path,
            filling: Block::new(),
            disk: Disk::Idle(writer, Block::new()),
            written: 0,
            reservation: Some(reservation),
        })
    }

    /// Waits for the block in flight, if any; returns the writer and a cleared
    /// spare block.
    async fn settle(&mut self) -> Result<(DiskWriter, Block), SpoolError> {
        match std::mem::replace(&mut self.disk, Disk::Broken) {
            Disk::Idle(writer, spare) => Ok((writer, spare)),
            Disk::Writing(task) => {
                let (writer, mut spare) = joined(task.await)?;
                spare.clear();
                Ok((writer, spare))
            }
            Disk::Broken => Err(SpoolError::Io(std::io::Error::other("staging file broken or already finished"))),
        }
    }

    /// Hands the full block to a writing task and goes on with the spare one.
    async fn write_filled(&mut self) -> Result<(), SpoolError> {
        let (mut writer, spare) = self.settle().await?;
        let full = std::mem::replace(&mut self.filling, spare);
        self.disk = Disk::Writing(tokio::task::spawn_blocking(move || {
            writer.write_block(&full)?;
            Ok((writer, full))
        }));
        Ok(())
    }
}

#[async_trait]
impl StagingFile for SledStagingFile {
    async fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), SpoolError> {
        let Some(reservation) = self.reservation.as_mut() else {
            return Err(SpoolError::Io(std::io::Error::other("staging file already finished")));
        };
        reservation.try_grow(bytes.len() as u64)?;
        self.written += bytes.len() as u64;
        while !bytes.is_empty() {
            let n = self.filling.fill(bytes);
            bytes = &bytes[n..];
            if self.filling.is_full() {
                self.write_filled().await?;
            }
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<StagedPayload, SpoolError> {
        let (writer, spare) = self.settle().await?;
        let last = std::mem::replace(&mut self.filling, spare);
        blocking(move || writer.finish(&last)).await?;
        Ok(StagedPayload { path: std::mem::take(&mut self.path), size: self.written, release: self.reservation.take() })
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, SpoolError> {
    joined(tokio::task::spawn_blocking(work).await)
}

fn joined<T>(result: Result<std::io::Result<T>, tokio::task::JoinError>) -> Result<T, SpoolError> {
    match result {
        Ok(outcome) => Ok(outcome?),
        Err(e) => Err(SpoolError::Io(std::io::Error::other(format!("staging writer failed: {e}")))),
    }
}

impl Drop for SledStagingFile {
    fn drop(&mut self) {
        if self.reservation.is_some() {
            remove_quietly(&self.path);
        }
    }
}

impl StagedPayload {
    /// After the file was moved into place: hands its reservation over; the
    /// (now dangling) path is no longer deleted on drop.
    pub(crate) fn disarm(mut self) -> Option<Reservation> {
        self.release.take()
    }
}

impl Drop for StagedPayload {
    fn drop(&mut self) {
        if self.release.take().is_some() {
            remove_quietly(&self.path);
        }
    }
}
