//! Payloads sent by reference: fetching them from the DMZ into a spool staging
//! file, hashing while the bytes stream by, and checking size and sha-256 before
//! the file is finished (fsynced). Nothing is read whole into memory.
//!
//! [`PayloadSource`] is the fetch as the receiver sees it: the real one is
//! [`sftp::fetch::Fetcher`] (the DMZ's internal SFTP); tests fake it.
//!
//! The spool is not cancel-safe, so the whole fetch-and-stage runs in its own task:
//! a dropped caller cannot cut a staging write or `finish()` in half (the task
//! runs on; its unused staged file is deleted when dropped).

use std::sync::Arc;

use async_trait::async_trait;
use envelope::Sha256;
use sftp::fetch::{FetchError, FetchSink, Fetcher};
use sha2::Digest;
use spool::{SpoolError, StagedPayload, StagingFile};

/// Where referenced payloads come from.
#[async_trait]
pub trait PayloadSource: Send + Sync + 'static {
    /// Streams the payload named `name` into `sink`; more or fewer bytes than
    /// `expected_size` is an error.
    async fn fetch(&self, name: &str, expected_size: u64, sink: &mut dyn FetchSink) -> Result<u64, FetchError>;
}

#[async_trait]
impl PayloadSource for Fetcher {
    async fn fetch(&self, name: &str, expected_size: u64, sink: &mut dyn FetchSink) -> Result<u64, FetchError> {
        Fetcher::fetch(self, name, expected_size, sink).await
    }
}

/// Why a referenced payload could not be staged.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Transfer or check failed: the DMZ keeps the envelope and sends it again.
    #[error("{0}")]
    Refused(String),
    /// The spool cannot take it now (quota, I/O): the whole frame waits.
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// Fetches `name` into a new staging file of `spool` and checks it against
/// `size` and `sha256`; the finished, fsynced file, ready for `NewPayload::Staged`.
pub async fn fetch_staged(
    spool: Arc<dyn spool::Spool>,
    source: Arc<dyn PayloadSource>,
    name: String,
    size: u64,
    sha256: Sha256,
) -> Result<StagedPayload, StageError> {
    let work = async move {
        let usage = spool.usage();
        let available = usage.quota_bytes.saturating_sub(usage.used_bytes);
        if size > available {
            return Err(SpoolError::InsufficientStorage { needed: size, available }.into());
        }
        let started = std::time::Instant::now();
        let mut sink = HashingSink { file: spool.stage().await?, hasher: sha2::Sha256::new(), failure: None };
        let fetched = source.fetch(&name, size, &mut sink).await;
        if let Some(error) = sink.failure.take() {
            return Err(StageError::Spool(error));
        }
        fetched.map_err(|e| StageError::Refused(format!("fetch failed: {e}")))?;
        let digest = Sha256(sink.hasher.finalize().into());
        if sink.file.written() != size || digest != sha256 {
            return Err(StageError::Refused(format!("fetched payload does not match: sha-256 {digest}")));
        }
        let staged = sink.file.finish().await?;
        let millis = started.elapsed().as_millis();
        tracing::info!(message = "payload fetched by reference", id = %name, size, millis);
        Ok(staged)
    };
    tokio::spawn(work).await.map_err(|e| StageError::Refused(format!("fetch task failed: {e}")))?
}

/// Writes fetched bytes to the staging file and hashes them on the way.
struct HashingSink {
    file: Box<dyn StagingFile>,
    hasher: sha2::Sha256,
    /// The spool's own error, kept apart from transfer failures.
    failure: Option<SpoolError>,
}

#[async_trait]
impl FetchSink for HashingSink {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.file.write_all(bytes).await.map_err(|error| {
            let io = std::io::Error::other(error.to_string());
            self.failure = Some(error);
            io
        })
    }
}
