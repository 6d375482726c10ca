//! What the inner does with envelopes from the DMZ: deliveries are checked (size and
//! sha-256 against the payload) and committed to the `inbound` queue, deduplicated
//! by id, *before* the ack goes back; the DMZ deletes only after that ack.

use std::sync::Arc;

use async_trait::async_trait;
use envelope::{Ack, AckOutcome, Body, DeliveryMeta, Envelope, Payload};
use message_service::{ReceiveError, Receiver};
use sha2::Digest;
use spool::{Enqueued, NewItem, NewPayload, Spool};

use crate::INBOUND;

/// Commits deliveries from the DMZ.
pub struct InnerReceiver {
    pub spool: Arc<dyn Spool>,
}

#[async_trait]
impl Receiver for InnerReceiver {
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let mut outcomes = Vec::with_capacity(envelopes.len());
        let mut items = Vec::new();
        for envelope in envelopes {
            let outcome = match envelope.body {
                Body::Delivery(meta) => {
                    items.push(delivery_item(envelope.id, meta, envelope.payload)?);
                    None
                }
                Body::Heartbeat(_) => Some(AckOutcome::Committed),
                Body::ConfigPush(_) => Some(AckOutcome::Rejected { reason: "the inner owns the config".into() }),
            };
            outcomes.push((envelope.id, outcome));
        }
        let mut committed = self.spool.enqueue(INBOUND, items, true).await.map_err(ReceiveError::from)?.into_iter();
        Ok(outcomes
            .into_iter()
            .map(|(id, outcome)| {
                let outcome = outcome.unwrap_or_else(|| match committed.next() {
                    Some(Enqueued::Duplicate) => AckOutcome::Duplicate,
                    _ => AckOutcome::Committed,
                });
                Ack { id, outcome }
            })
            .collect())
    }
}

/// Turns a delivery envelope into an `inbound` item after checking its bytes. A
/// mismatch is refused as "unavailable" so the DMZ keeps its copy and retries:
/// nothing corrupt is ever delivered and nothing is dropped.
fn delivery_item(
    id: envelope::EnvelopeId,
    meta: DeliveryMeta,
    payload: Option<Payload>,
) -> Result<NewItem, ReceiveError> {
    let bytes = match payload {
        Some(Payload::Inline(bytes)) => bytes,
        Some(Payload::Reference { .. }) => {
            return Err(ReceiveError::Unavailable(format!("delivery {id}: payload by reference is not supported yet")));
        }
        None => return Err(ReceiveError::Unavailable(format!("delivery {id} has no payload"))),
    };
    let sha256 = envelope::Sha256(sha2::Sha256::digest(&bytes).into());
    if bytes.len() as u64 != meta.size || sha256 != meta.sha256 {
        tracing::error!(message = "delivery payload does not match its size or sha-256; refusing it", %id, channel = %meta.channel);
        return Err(ReceiveError::Unavailable(format!("delivery {id}: payload does not match its size or sha-256")));
    }
    Ok(NewItem {
        id: id.as_u128(),
        channel: Some(meta.channel.clone()),
        header: envelope::encode(&Body::Delivery(meta)),
        payload: NewPayload::Bytes(bytes),
    })
}
