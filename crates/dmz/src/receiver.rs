//! What the DMZ does with envelopes from the inner node: config pushes are applied,
//! fetch and send requests admitted ([`crate::outbound`]), anything else refused.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use envelope::{Ack, AckOutcome, Body, Envelope};
use message_service::{ReceiveError, Receiver};
use spool::Spool;

use crate::active::ActiveConfig;

/// Applies config pushes; admits outbound requests; answers heartbeats; refuses
/// anything else.
pub struct DmzReceiver {
    pub spool: Arc<dyn Spool>,
    pub config: ActiveConfig,
    /// The internal SFTP area where the inner leaves send payloads by reference
    /// (`/outbound/<envelope id>`).
    pub outbound_dir: PathBuf,
}

#[async_trait]
impl Receiver for DmzReceiver {
    /// An envelope left out of the acks (an outbound file not there yet) comes
    /// again later.
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let mut acks = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let id = envelope.id;
            if let Some(outcome) = self.handle(envelope).await? {
                acks.push(Ack { id, outcome });
            }
        }
        Ok(acks)
    }
}

impl DmzReceiver {
    async fn handle(&self, envelope: Envelope) -> Result<Option<AckOutcome>, ReceiveError> {
        match envelope.body {
            Body::ConfigPush(config) => {
                self.config.apply(self.spool.as_ref(), config).await.map_err(ReceiveError::from)?;
                Ok(Some(AckOutcome::Committed))
            }
            Body::Heartbeat(_) => Ok(Some(AckOutcome::Committed)),
            Body::Fetch(_) | Body::Send(_) => {
                crate::outbound::admit(&self.spool, &self.config, &self.outbound_dir, envelope).await
            }
            other => {
                tracing::warn!(
                    message = "refused an envelope the DMZ does not take from the inner",
                    kind = other.kind()
                );
                let reason = format!("the DMZ does not accept {} envelopes", other.kind());
                Ok(Some(AckOutcome::Rejected { reason }))
            }
        }
    }
}
