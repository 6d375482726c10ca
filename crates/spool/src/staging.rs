//! Streamed uploads: [`SledStagingFile`] (a [`StagingFile`] under `staging/`)
//! and the cleanup of unused [`StagedPayload`]s.

use std::path::PathBuf;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use crate::api::{SpoolError, StagedPayload, StagingFile};
use crate::payloads::remove_quietly;
use crate::quota::Reservation;

/// After this many bytes, a background `fdatasync` starts writing back what is
/// there so far, so the final fsync of a large upload has little left to do
/// (the transfer and the writeback overlap instead of running one after the other).
const EARLY_SYNC_EVERY: u64 = 64 << 20;

/// A staging file being written. Every byte is reserved against the quota before
/// it is written; dropping the file unfinished deletes it and gives the bytes back.
pub(crate) struct SledStagingFile {
    file: Option<tokio::fs::File>,
    path: PathBuf,
    written: u64,
    /// `None` once finished (ownership moved into the [`StagedPayload`]).
    reservation: Option<Reservation>,
    /// Bytes written when the last early writeback started, and that writeback.
    synced_at: u64,
    early_sync: Option<tokio::task::JoinHandle<()>>,
}

impl SledStagingFile {
    pub(crate) async fn create(path: PathBuf, reservation: Reservation) -> Result<SledStagingFile, SpoolError> {
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
        Ok(SledStagingFile {
            file: Some(file),
            path,
            written: 0,
            reservation: Some(reservation),
            synced_at: 0,
            early_sync: None,
        })
    }

    /// Starts a background writeback of the bytes so far, at most one at a time.
    /// Its outcome does not matter: [`StagingFile::finish`] fsyncs everything.
    async fn maybe_sync_early(&mut self) {
        let busy = self.early_sync.as_ref().is_some_and(|task| !task.is_finished());
        if busy || self.written - self.synced_at < EARLY_SYNC_EVERY {
            return;
        }
        let Some(file) = self.file.as_mut() else { return };
        if file.flush().await.is_err() {
            return;
        }
        if let Ok(clone) = file.try_clone().await {
            let clone = clone.into_std().await;
            self.synced_at = self.written;
            self.early_sync = Some(tokio::task::spawn_blocking(move || drop(clone.sync_data())));
        }
    }

    fn parts(&mut self) -> Result<(&mut tokio::fs::File, &mut Reservation), SpoolError> {
        match (self.file.as_mut(), self.reservation.as_mut()) {
            (Some(file), Some(reservation)) => Ok((file, reservation)),
            _ => Err(SpoolError::Io(std::io::Error::other("staging file already finished"))),
        }
    }
}

#[async_trait]
impl StagingFile for SledStagingFile {
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        let (file, reservation) = self.parts()?;
        reservation.try_grow(bytes.len() as u64)?;
        file.write_all(bytes).await?;
        self.written += bytes.len() as u64;
        self.maybe_sync_early().await;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<StagedPayload, SpoolError> {
        let (file, _) = self.parts()?;
        file.flush().await?;
        file.sync_all().await?;
        self.file = None;
        Ok(StagedPayload { path: std::mem::take(&mut self.path), size: self.written, release: self.reservation.take() })
    }
}

impl Drop for SledStagingFile {
    fn drop(&mut self) {
        if self.reservation.is_some() {
            drop(self.file.take());
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
