//! What the inner does with envelopes from the DMZ: deliveries are checked (size and
//! sha-256 against the payload) and committed to the `inbound` queue, deduplicated
//! by id, *before* the ack goes back; the DMZ deletes only after that ack. A
//! delivery that fails its checks gets no ack (nor do its channel's later ones in
//! the frame): the DMZ keeps it and sends it again, and other channels go on.

use std::collections::HashSet;
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
        // A delivery that fails its checks is left unacked (the DMZ keeps it and
        // sends it again); so are its channel's later deliveries in this frame,
        // to keep the channel's order. Other channels go on.
        let mut held_channels = HashSet::new();
        for envelope in envelopes {
            let outcome = match envelope.body {
                Body::Delivery(meta) if held_channels.contains(&meta.channel) => continue,
                Body::Delivery(meta) => {
                    let channel = meta.channel.clone();
                    match delivery_item(envelope.id, meta, envelope.payload) {
                        Ok(item) => items.push(item),
                        Err(reason) => {
                            tracing::error!(message = "delivery refused for now; the DMZ keeps it", id = %envelope.id, %channel, %reason);
                            held_channels.insert(channel);
                            continue;
                        }
                    }
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

/// Turns a delivery envelope into an `inbound` item after checking its bytes, or
/// says why not. Nothing corrupt is ever delivered and nothing is dropped: the
/// caller leaves a refused envelope unacked, so the DMZ keeps it.
fn delivery_item(id: envelope::EnvelopeId, meta: DeliveryMeta, payload: Option<Payload>) -> Result<NewItem, String> {
    let bytes = match payload {
        Some(Payload::Inline(bytes)) => bytes,
        Some(Payload::Reference { .. }) => return Err("payload by reference is not supported yet".into()),
        None => return Err("no payload".into()),
    };
    let sha256 = envelope::Sha256(sha2::Sha256::digest(&bytes).into());
    if bytes.len() as u64 != meta.size || sha256 != meta.sha256 {
        return Err("payload does not match its size or sha-256".into());
    }
    Ok(NewItem {
        id: id.as_u128(),
        channel: Some(meta.channel.clone()),
        header: envelope::encode(&Body::Delivery(meta)),
        payload: NewPayload::Bytes(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envelope::{EnvelopeId, Partner, Protocol, Sha256};
    use spool::{SledSpool, SpoolOptions};

    fn delivery(channel: &str, bytes: &[u8], corrupt: bool) -> Envelope {
        let sha = sha2::Sha256::digest(bytes).into();
        let meta = DeliveryMeta {
            channel: channel.into(),
            protocol: Protocol::Admin,
            partner: Partner { login: None, remote: None },
            path: "f".into(),
            received_at: 0,
            size: bytes.len() as u64,
            sha256: Sha256(if corrupt { [0; 32] } else { sha }),
        };
        Envelope {
            id: EnvelopeId::generate(),
            body: Body::Delivery(meta),
            payload: Some(Payload::Inline(bytes.to_vec())),
        }
    }

    #[tokio::test]
    async fn a_corrupt_delivery_holds_back_only_its_channel() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).expect("spool");
        let receiver = InnerReceiver { spool: spool.clone() };
        let frame = vec![
            delivery("a", b"1", false),
            delivery("b", b"2", true),
            delivery("b", b"3", false),
            delivery("a", b"4", false),
        ];
        let ids: Vec<EnvelopeId> = frame.iter().map(|e| e.id).collect();
        let acks = receiver.receive(frame).await.expect("receive");
        let acked: Vec<EnvelopeId> = acks.iter().map(|a| a.id).collect();
        assert_eq!(acked, vec![ids[0], ids[3]], "b's corrupt delivery and the one after it stay with the DMZ");
        assert_eq!(spool.queue_stats(INBOUND).depth, 2);
    }
}
