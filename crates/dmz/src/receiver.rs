//! What the DMZ does with envelopes from the inner node.

use std::sync::Arc;

use async_trait::async_trait;
use envelope::{Ack, AckOutcome, Body, Envelope};
use message_service::{ReceiveError, Receiver};
use spool::Spool;

use crate::active::ActiveConfig;

/// Applies config pushes; answers heartbeats; refuses anything else.
pub struct DmzReceiver {
    pub spool: Arc<dyn Spool>,
    pub config: ActiveConfig,
}

#[async_trait]
impl Receiver for DmzReceiver {
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let mut acks = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let outcome = self.handle(envelope.body).await?;
            acks.push(Ack { id: envelope.id, outcome });
        }
        Ok(acks)
    }
}

impl DmzReceiver {
    async fn handle(&self, body: Body) -> Result<AckOutcome, ReceiveError> {
        match body {
            Body::ConfigPush(config) => {
                self.config.apply(self.spool.as_ref(), config).await.map_err(ReceiveError::from)?;
                Ok(AckOutcome::Committed)
            }
            Body::Heartbeat(_) => Ok(AckOutcome::Committed),
            other => {
                tracing::warn!(
                    message = "refused an envelope the DMZ does not take from the inner",
                    kind = other.kind()
                );
                Ok(AckOutcome::Rejected { reason: format!("the DMZ does not accept {} envelopes", other.kind()) })
            }
        }
    }
}
