//! [`InboundSink`]: files a direct (`via_dmz = false`) fetch collects go into the
//! inner's `inbound` queue like deliveries from the DMZ: streamed into a spool
//! staging file while hashed, committed under the fetched file's id with dedupe.

use std::sync::Arc;

use async_trait::async_trait;
use envelope::{Body, DeliveryMeta, EnvelopeId, FetchRequest};
use sha2::Digest;
use spool::{Enqueued, NewItem, NewPayload, Spool, SpoolError};
use tokio::io::{AsyncRead, AsyncReadExt};
use transfer::{FetchSink, FetchedFile, TransferError};

use crate::INBOUND;

/// Bytes read from the partner's server at a time.
const CHUNK: usize = 256 * 1024;

pub(super) struct InboundSink {
    pub spool: Arc<dyn Spool>,
}

#[async_trait]
impl FetchSink for InboundSink {
    async fn store(
        &self,
        id: EnvelopeId,
        request: &FetchRequest,
        file: &FetchedFile,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<bool, TransferError> {
        let (protocol, partner, fetched) = transfer::delivered_as(request, file)?;
        let mut staging = self.spool.stage().await.map_err(spool_error)?;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = source
                .read(&mut buffer)
                .await
                .map_err(|e| TransferError::transient(format!("reading {}: {e}", file.remote_path)))?;
            if n == 0 {
                break;
            }
            let chunk = buffer.get(..n).unwrap_or_default();
            hasher.update(chunk);
            staging.write_all(chunk).await.map_err(spool_error)?;
        }
        let staged = staging.finish().await.map_err(spool_error)?;
        let meta = DeliveryMeta {
            channel: request.channel.clone(),
            protocol,
            partner,
            path: file.name.clone(),
            received_at: envelope::now_millis(),
            size: staged.size(),
            sha256: envelope::Sha256(hasher.finalize().into()),
            mail: None,
            as2: None,
            fetched: Some(Box::new(fetched)),
        };
        let item = NewItem {
            id: id.as_u128(),
            channel: Some(meta.channel.clone()),
            header: envelope::encode(&Body::Delivery(meta)),
            payload: NewPayload::Staged(staged),
        };
        let committed = self.spool.enqueue(INBOUND, vec![item], true).await.map_err(spool_error)?;
        let added = committed.first() != Some(&Enqueued::Duplicate);
        tracing::info!(message = "fetched file committed", %id, channel = %request.channel, job = %request.job, remote_path = %file.remote_path, duplicate = !added);
        Ok(added)
    }
}

/// A full spool may pass; anything else the spool says is not the partner's fault
/// either, so the run is tried again later.
fn spool_error(error: SpoolError) -> TransferError {
    TransferError::transient(format!("inner spool: {error}"))
}
