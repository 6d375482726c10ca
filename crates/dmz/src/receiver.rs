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

#[cfg(test)]
mod tests {
    use super::*;
    use envelope::{DmzConfig, EnvelopeId, Heartbeat};
    use spool::{SledSpool, SpoolOptions};

    #[tokio::test]
    async fn a_request_waiting_for_its_outbound_file_is_left_unacked_the_rest_acked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool: Arc<dyn Spool> = SledSpool::open(SpoolOptions::new(dir.path().join("spool"))).expect("spool");
        let config = ActiveConfig::default();
        let receiver = DmzReceiver { spool, config: config.clone(), outbound_dir: dir.path().join("outbound") };
        let channel = envelope::ChannelVerifiers {
            name: "c".into(),
            dial: vec!["files.partner.example:22".into()],
            ..Default::default()
        };
        let push = DmzConfig { generation: 1, channels: vec![channel], ..Default::default() };
        let request = envelope::SendRequest {
            channel: "c".into(),
            name: "f".into(),
            remote: crate::outbound::tests::target(
                &transfer::seal::generate_key().expect("key"),
                envelope::RemoteProtocol::Sftp,
                "files.partner.example",
                22,
            ),
            directory: String::new(),
            size: 5,
            sha256: envelope::Sha256([7; 32]),
            retries: 0,
            retry_base_ms: 0,
            retry_max_ms: 0,
            delete_after_pickup: false,
        };
        let envelopes = vec![
            Envelope { id: EnvelopeId::generate(), body: Body::ConfigPush(push), payload: None },
            Envelope {
                id: EnvelopeId::generate(),
                body: Body::Send(request),
                payload: Some(envelope::Payload::Reference { size: 5, sha256: envelope::Sha256([7; 32]) }),
            },
            Envelope { id: EnvelopeId::generate(), body: Body::Heartbeat(Heartbeat { sent_at: 0 }), payload: None },
        ];
        let (first, last) = (envelopes[0].id, envelopes[2].id);
        let acks = receiver.receive(envelopes).await.expect("receive");
        assert_eq!(acks.iter().map(|a| a.id).collect::<Vec<_>>(), [first, last]);
        assert!(acks.iter().all(|a| a.outcome == AckOutcome::Committed));
        assert_eq!(config.get().generation, 1);
    }
}
