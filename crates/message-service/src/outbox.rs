//! Spool items ↔ envelopes (the lead's storage convention), leasing batches from an
//! outbound queue, and settling them once the peer has acked. [`wire_payload`] is
//! the one place deciding whether a payload travels inline or by reference.

use std::collections::HashMap;

use envelope::{Ack, AckOutcome, Body, Envelope, EnvelopeId, Payload};
use spool::{NewItem, NewPayload, Seq, Spool, SpoolError, StoredItem, StoredPayload};

use crate::config::Limits;
use crate::reference::{ByReference, References};

/// An envelope that cannot be stored yet.
#[derive(Debug, thiserror::Error)]
#[error("envelope {0}: payloads by reference are not supported yet")]
pub struct UnsupportedPayload(pub EnvelopeId);

/// The spool item for an envelope: `header` = encoded body, `id` = envelope id,
/// `channel` = the body's channel, payload = the inline bytes. A send whose payload
/// goes by reference (the inner uploaded it to the DMZ's `/outbound/<id>` first)
/// is stored without bytes: [`wire_payload`] makes the reference again from the
/// request's size and sha-256.
pub fn new_item(envelope: Envelope) -> Result<NewItem, UnsupportedPayload> {
    let payload = match (envelope.payload, &envelope.body) {
        (None, _) => NewPayload::None,
        (Some(Payload::Inline(bytes)), _) => NewPayload::Bytes(bytes),
        (Some(Payload::Reference { size, sha256 }), Body::Send(send)) if size == send.size && sha256 == send.sha256 => {
            NewPayload::None
        }
        (Some(Payload::Reference { .. }), _) => return Err(UnsupportedPayload(envelope.id)),
    };
    Ok(NewItem {
        id: envelope.id.as_u128(),
        channel: envelope.body.channel().map(str::to_owned),
        header: envelope::encode(&envelope.body),
        payload,
    })
}

/// How a stored payload travels. The one place where "inline or by reference" is
/// decided: a delivery whose payload the spool keeps as a file larger than the
/// current streaming size goes by reference (recorded in the references table
/// under the envelope id); a send stored without bytes goes by reference to the
/// copy its sender uploaded to the DMZ's `/outbound/<id>`; everything else inline.
async fn wire_payload(
    id: EnvelopeId,
    body: &Body,
    stored: &StoredPayload,
    by_reference: Option<&ByReference>,
) -> Result<Option<Payload>, SpoolError> {
    match (stored, body, by_reference) {
        (StoredPayload::None, Body::Send(send), _) => {
            Ok(Some(Payload::Reference { size: send.size, sha256: send.sha256 }))
        }
        (StoredPayload::None, _, _) => Ok(None),
        (StoredPayload::File { path, size }, Body::Delivery(meta), Some(policy)) if policy.applies_to(*size) => {
            policy.references.insert(id, path);
            Ok(Some(Payload::Reference { size: *size, sha256: meta.sha256 }))
        }
        (other, _, _) => Ok(Some(Payload::Inline(other.read_all().await?))),
    }
}

/// Leased envelopes and the spool positions they came from.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) envelopes: Vec<Envelope>,
    pub(crate) leases: Leases,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.envelopes.is_empty()
    }
}

/// Envelope id → seq of items leased and sent, awaiting the peer's acks.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    by_id: HashMap<EnvelopeId, Seq>,
    /// Where payloads sent by reference are recorded; acked ids are removed.
    references: Option<References>,
}

impl Leases {
    pub(crate) fn insert(&mut self, id: EnvelopeId, seq: Seq) {
        self.by_id.insert(id, seq);
    }

    pub(crate) fn extend(&mut self, other: Leases) {
        self.by_id.extend(other.by_id);
        if self.references.is_none() {
            self.references = other.references;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every seq, leaving the set empty.
    pub(crate) fn take_seqs(&mut self) -> Vec<Seq> {
        self.by_id.drain().map(|(_, seq)| seq).collect()
    }

    /// Removes and returns the seqs of acked ids (any outcome deletes; rejections
    /// are logged). Acks for unknown ids are ignored: they are resent acks.
    pub(crate) fn take_acked(&mut self, acks: &[Ack]) -> Vec<Seq> {
        acks.iter()
            .filter_map(|ack| {
                let seq = self.by_id.remove(&ack.id)?;
                if let Some(references) = &self.references {
                    references.remove(ack.id);
                }
                if let AckOutcome::Rejected { reason } = &ack.outcome {
                    tracing::warn!(id = %ack.id, reason, "peer rejected envelope; deleting it");
                }
                let outcome = match ack.outcome {
                    AckOutcome::Committed => "committed",
                    AckOutcome::Duplicate => "duplicate",
                    AckOutcome::Rejected { .. } => "rejected",
                };
                tracing::info!(target: "audit", event = "handoff", id = %ack.id, outcome);
                Some(seq)
            })
            .collect()
    }
}

/// Applies the peer's acks to `leases`: deletes acked items, returns every other
/// item to the queue for redelivery. `leases` is empty afterwards.
pub(crate) async fn settle(spool: &dyn Spool, queue: &str, leases: &mut Leases, acks: &[Ack]) {
    delete_acked(spool, queue, leases, acks).await;
    release_all(spool, queue, leases);
}

/// Deletes the items the peer acked and forgets their leases; others stay leased.
pub(crate) async fn delete_acked(spool: &dyn Spool, queue: &str, leases: &mut Leases, acks: &[Ack]) {
    let acked = leases.take_acked(acks);
    if !acked.is_empty()
        && let Err(error) = spool.ack(queue, &acked, Vec::new()).await
    {
        // They will be sent again and deduplicated by the peer.
        tracing::error!(%error, queue, "cannot ack delivered envelopes; they will be resent");
        spool.release(queue, &acked);
    }
}

/// Returns every leased item to the queue.
pub(crate) fn release_all(spool: &dyn Spool, queue: &str, leases: &mut Leases) {
    let seqs = leases.take_seqs();
    if !seqs.is_empty() {
        spool.release(queue, &seqs);
    }
}

/// Leases up to `batch_items` items and `batch_bytes` bytes (at least one item) and
/// turns them into envelopes. Items leased but not taken are released at once.
pub(crate) async fn lease_batch(
    spool: &dyn Spool,
    queue: &str,
    limits: &Limits,
    by_reference: Option<&ByReference>,
) -> Result<Batch, SpoolError> {
    let items = spool.lease(queue, limits.batch_items.max(1)).await?;
    let mut batch = Batch::default();
    batch.leases.references = by_reference.map(|policy| policy.references.clone());
    let mut bytes = 0usize;
    let mut items = items.into_iter();
    while let Some(item) = items.next() {
        let size = item_size(&item);
        if !batch.is_empty() && bytes.saturating_add(size) > limits.batch_bytes {
            let rest: Vec<Seq> = std::iter::once(item.seq).chain(items.map(|i| i.seq)).collect();
            spool.release(queue, &rest);
            break;
        }
        let seq = item.seq;
        match to_envelope(spool, queue, item, by_reference).await {
            Ok(Some(envelope)) => {
                bytes = bytes.saturating_add(size);
                batch.leases.insert(envelope.id, seq);
                batch.envelopes.push(envelope);
            }
            Ok(None) => {}
            Err(error) => {
                let rest: Vec<Seq> = std::iter::once(seq).chain(items.map(|i| i.seq)).collect();
                spool.release(queue, &rest);
                release_all(spool, queue, &mut batch.leases);
                return Err(error);
            }
        }
    }
    Ok(batch)
}

fn item_size(item: &StoredItem) -> usize {
    let payload = usize::try_from(item.payload.size()).unwrap_or(usize::MAX);
    item.header.len().saturating_add(payload)
}

/// The envelope of a leased item. A header that does not decode can never be sent:
/// it is logged and acked away (`Ok(None)`) so that it does not block the queue.
async fn to_envelope(
    spool: &dyn Spool,
    queue: &str,
    item: StoredItem,
    by_reference: Option<&ByReference>,
) -> Result<Option<Envelope>, SpoolError> {
    let id = EnvelopeId::from_u128(item.id);
    let body = match envelope::decode::<Body>(&item.header, usize::MAX) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%id, seq = item.seq, queue, %error, "undecodable spool record; dropping it");
            if let Err(error) = spool.ack(queue, &[item.seq], Vec::new()).await {
                tracing::error!(%id, %error, "cannot drop undecodable spool record");
            }
            return Ok(None);
        }
    };
    let payload = wire_payload(id, &body, &item.payload, by_reference).await?;
    Ok(Some(Envelope { id, body, payload }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use envelope::{DeliveryMeta, Partner, Protocol, Sha256};

    fn delivery(channel: &str, bytes: &[u8]) -> Envelope {
        Envelope {
            id: EnvelopeId::generate(),
            body: Body::Delivery(DeliveryMeta {
                channel: channel.into(),
                protocol: Protocol::Admin,
                partner: Partner { login: None, remote: None },
                path: "a.txt".into(),
                received_at: 1,
                size: bytes.len() as u64,
                sha256: Sha256([0; 32]),
                mail: None,
                as2: None,
                fetched: None,
            }),
            payload: Some(Payload::Inline(bytes.to_vec())),
        }
    }

    #[test]
    fn new_item_follows_the_convention() {
        let envelope = delivery("acme", b"hello");
        let item = new_item(envelope.clone()).expect("inline payload is supported");
        assert_eq!(item.id, envelope.id.as_u128());
        assert_eq!(item.channel.as_deref(), Some("acme"));
        assert_eq!(envelope::decode::<Body>(&item.header, 1 << 20), Ok(envelope.body));
        assert!(matches!(item.payload, NewPayload::Bytes(ref b) if b == b"hello"));
    }

    #[test]
    fn references_of_deliveries_are_refused() {
        let mut envelope = delivery("acme", b"");
        envelope.payload = Some(Payload::Reference { size: 1, sha256: Sha256([0; 32]) });
        assert!(new_item(envelope).is_err());
    }

    fn send_by_reference(size: u64) -> Envelope {
        let remote = envelope::RemoteTarget {
            name: "r".into(),
            protocol: envelope::RemoteProtocol::Sftp,
            host: "h".into(),
            port: 22,
            user: String::new(),
            secret_kind: envelope::SecretKind::None,
            secret: Default::default(),
            tls_cert_pem: None,
            host_key: None,
            accept_any_host_key: false,
            url_path: None,
            http_put: false,
            mail_from: None,
            mail_to: Vec::new(),
            starttls: false,
            as2: None,
            connect_timeout_ms: 0,
            io_timeout_ms: 0,
        };
        let request = envelope::SendRequest {
            channel: "acme".into(),
            name: "big.bin".into(),
            remote,
            directory: String::new(),
            size,
            sha256: Sha256([7; 32]),
            retries: 0,
            retry_base_ms: 0,
            retry_max_ms: 0,
            delete_after_pickup: false,
        };
        let payload = Some(Payload::Reference { size, sha256: Sha256([7; 32]) });
        Envelope { id: EnvelopeId::generate(), body: Body::Send(request), payload }
    }

    #[tokio::test]
    async fn a_send_by_reference_is_stored_without_bytes_and_travels_as_its_reference() {
        let envelope = send_by_reference(5 << 20);
        let item = new_item(envelope.clone()).expect("a send may go by reference");
        assert!(matches!(item.payload, NewPayload::None));
        let wire = wire_payload(envelope.id, &envelope.body, &StoredPayload::None, None).await.ok();
        assert_eq!(wire, Some(envelope.payload.clone()));
        let mut mismatched = envelope;
        mismatched.payload = Some(Payload::Reference { size: 1, sha256: Sha256([7; 32]) });
        assert!(new_item(mismatched).is_err(), "a reference that is not the request's own is refused");
    }

    #[test]
    fn acks_take_only_known_ids() {
        let mut leases = Leases::default();
        let (a, b) = (EnvelopeId::generate(), EnvelopeId::generate());
        leases.insert(a, 1);
        leases.insert(b, 2);
        let acks = [
            Ack { id: a, outcome: AckOutcome::Rejected { reason: "bad path".into() } },
            Ack { id: EnvelopeId::generate(), outcome: AckOutcome::Committed },
        ];
        assert_eq!(leases.take_acked(&acks), vec![1]);
        assert_eq!(leases.take_seqs(), vec![2]);
        assert_eq!(leases.take_seqs(), Vec::<Seq>::new());
    }

    #[tokio::test]
    async fn stored_payloads_travel_inline_without_a_streaming_size() {
        let body = delivery("acme", b"x").body;
        let id = EnvelopeId::generate();
        assert_eq!(wire_payload(id, &body, &StoredPayload::None, None).await.ok(), Some(None));
        let inline = wire_payload(id, &body, &StoredPayload::Inline(b"x".to_vec()), None).await.ok();
        assert_eq!(inline, Some(Some(Payload::Inline(b"x".to_vec()))));
    }

    #[tokio::test]
    async fn files_above_the_streaming_size_travel_by_reference_until_acked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (small, large) = (dir.path().join("small"), dir.path().join("large"));
        std::fs::write(&small, [1u8; 10]).expect("small");
        std::fs::write(&large, [2u8; 11]).expect("large");
        let mut envelope = delivery("acme", &[2u8; 11]);
        let Body::Delivery(meta) = &mut envelope.body else { unreachable!() };
        meta.sha256 = Sha256([9; 32]);
        let references = References::new();
        let policy = ByReference::new(|| Some(10), references.clone());
        let stored = |path: &std::path::Path, size| StoredPayload::File { path: path.to_owned(), size };
        let (id, body) = (envelope.id, &envelope.body);

        let at_limit = wire_payload(id, body, &stored(&small, 10), Some(&policy)).await.ok();
        assert_eq!(at_limit, Some(Some(Payload::Inline(vec![1u8; 10]))));
        assert!(references.is_empty());
        let over = wire_payload(id, body, &stored(&large, 11), Some(&policy)).await.ok();
        assert_eq!(over, Some(Some(Payload::Reference { size: 11, sha256: Sha256([9; 32]) })));
        assert_eq!(references.path(&id.to_string()), Some(large.clone()));
        let inline_only = ByReference::new(|| None, References::new());
        let unknown = wire_payload(id, body, &stored(&large, 11), Some(&inline_only)).await.ok();
        assert_eq!(unknown, Some(Some(Payload::Inline(vec![2u8; 11]))), "no streaming size yet: inline");

        let mut leases = Leases { references: Some(references.clone()), ..Leases::default() };
        leases.insert(id, 7);
        assert_eq!(leases.take_acked(&[Ack { id, outcome: AckOutcome::Committed }]), vec![7]);
        assert!(references.is_empty(), "the ack forgets the reference");
    }
}
