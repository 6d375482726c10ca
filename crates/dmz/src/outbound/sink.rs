//! [`IntakeSink`]: fetched files enter the DMZ like partner uploads, through the
//! [`Intake`], as deliveries of the request's channel — streamed, deduplicated by
//! the id the transfer derives ([`transfer::fetched_id`]), with where they were
//! found in [`envelope::FetchedMeta`].

use std::sync::Mutex;

use async_trait::async_trait;
use envelope::{EnvelopeId, FetchRequest, SeenFile};
use tokio::io::{AsyncRead, AsyncReadExt};
use transfer::{FetchSink, FetchedFile, TransferError};

use crate::intake::{Arrival, Intake, IntakeError};

/// Bytes read from the partner's server at a time.
const CHUNK: usize = 256 * 1024;

/// Commits fetched files to `to-inner`; remembers which, for the outcome of a
/// fetch that fails half-way.
pub(crate) struct IntakeSink {
    pub intake: Intake,
    pub stored: Mutex<Vec<SeenFile>>,
}

impl IntakeSink {
    pub fn new(intake: Intake) -> Self {
        IntakeSink { intake, stored: Mutex::default() }
    }

    /// The files stored so far (new or duplicate), each once across attempts.
    pub fn stored(&self) -> Vec<SeenFile> {
        self.stored.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl FetchSink for IntakeSink {
    async fn store(
        &self,
        id: EnvelopeId,
        request: &FetchRequest,
        file: &FetchedFile,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<bool, TransferError> {
        let arrival = arrival(id, request, file)?;
        let mut delivery = self.intake.begin(arrival).await.map_err(transfer_error)?;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = source
                .read(&mut buffer)
                .await
                .map_err(|e| TransferError::transient(format!("reading {}: {e}", file.remote_path)))?;
            if n == 0 {
                break;
            }
            delivery.write(&buffer[..n]).await.map_err(transfer_error)?;
        }
        let size = delivery.size();
        let added = delivery.commit_once().await.map_err(transfer_error)?.is_some();
        tracing::info!(message = "fetched file committed", %id, channel = %request.channel, job = %request.job, remote_path = %file.remote_path, size, duplicate = !added);
        let seen = SeenFile { name: file.name.clone(), size: file.listed_size.or(Some(size)) };
        let mut stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        if !stored.contains(&seen) {
            stored.push(seen);
        }
        Ok(added)
    }
}

/// A fetched file as a delivery of the request's channel.
fn arrival(id: EnvelopeId, request: &FetchRequest, file: &FetchedFile) -> Result<Arrival, TransferError> {
    let (protocol, partner, fetched) = transfer::delivered_as(request, file)?;
    Ok(Arrival {
        id,
        channel: request.channel.clone(),
        protocol,
        partner,
        path: file.name.clone(),
        mail: None,
        as2: None,
        fetched: Some(fetched),
    })
}

/// A full or unavailable spool may pass; a channel gone or a bad name will not.
fn transfer_error(error: IntakeError) -> TransferError {
    match error {
        IntakeError::InsufficientStorage | IntakeError::Unavailable(_) | IntakeError::InnerDown => {
            TransferError::transient(format!("DMZ spool: {error}"))
        }
        IntakeError::UnknownChannel(_) | IntakeError::BadPath(_) => TransferError::permanent(error.to_string()),
    }
}
