//! What the inner does with envelopes from the DMZ: deliveries are checked (size and
//! sha-256 against the payload) and committed to the `inbound` queue, deduplicated
//! by id, *before* the ack goes back; the DMZ deletes only after that ack. A
//! delivery that fails its checks gets no ack (nor do its channel's later ones in
//! the frame): the DMZ keeps it and sends it again, and other channels go on.
//!
//! Payloads by reference (`Payload::Reference`) are fetched from the DMZ
//! (`/payloads/<envelope id>` on its internal SFTP) into a spool staging file,
//! hashed while streaming, checked, fsynced, and committed like inline ones. A
//! broken transfer or a mismatch leaves the envelope unacked (logged at error); a
//! spool that cannot take the file (quota, I/O) fails the whole frame, so the DMZ
//! backs off instead of sending the same large payload again at once. References
//! are fetched one after the other.
//!
//! The spool is not cancel-safe: each frame is handled in its own task, so a
//! dropped request cannot cut a staging write or the enqueue in half.

mod fetches;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use envelope::{Ack, AckOutcome, Body, DeliveryMeta, Envelope, EnvelopeId, Payload, RequestKind, RequestOutcome};
use message_service::{ReceiveError, Receiver};
use sha2::Digest;
use spool::{Enqueued, NewItem, NewPayload, Spool};

use crate::INBOUND;
use crate::fetch::{PayloadSource, StageError, fetch_staged};
use crate::outbound::{Jobs, Sends};
use fetches::{Fetches, Running, Start};

/// Commits deliveries from the DMZ.
#[derive(Clone)]
pub struct InnerReceiver {
    spool: Arc<dyn Spool>,
    /// Where payloads by reference come from; `None` leaves them unacked.
    source: Option<Arc<dyn PayloadSource>>,
    fetches: Fetches,
    /// Where fetch outcomes go (their job's run ends).
    jobs: Option<Arc<Jobs>>,
    /// Where send outcomes go.
    sends: Option<Arc<Sends>>,
}

impl InnerReceiver {
    pub fn new(spool: Arc<dyn Spool>, source: Option<Arc<dyn PayloadSource>>) -> Self {
        InnerReceiver { spool, source, fetches: Fetches::default(), jobs: None, sends: None }
    }

    pub fn with_outbound(mut self, jobs: Arc<Jobs>, sends: Arc<Sends>) -> Self {
        self.jobs = Some(jobs);
        self.sends = Some(sends);
        self
    }
}

#[async_trait]
impl Receiver for InnerReceiver {
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let receiver = self.clone();
        tokio::spawn(async move { receiver.receive_frame(envelopes).await })
            .await
            .map_err(|e| ReceiveError::Unavailable(format!("receiver task failed: {e}")))?
    }
}

/// What became of one delivery before the commit.
enum Prepared {
    /// To be enqueued; a referenced payload keeps its fetch claim until then.
    Item(NewItem, Option<Running>),
    /// Committed before (its payload was fetched then): a duplicate.
    Known,
}

/// Why a delivery is not committed now.
enum Refusal {
    /// Leave it (and its channel's later envelopes) unacked.
    Hold { reason: String, quiet: bool },
    /// The spool cannot take anything now: fail the frame.
    Frame(ReceiveError),
}

impl InnerReceiver {
    async fn receive_frame(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let mut outcomes = Vec::with_capacity(envelopes.len());
        let (mut items, mut claims) = (Vec::new(), Vec::new());
        // A delivery that fails its checks is left unacked (the DMZ keeps it and
        // sends it again); so are its channel's later deliveries in this frame,
        // to keep the channel's order. Other channels go on.
        let mut held_channels = HashSet::new();
        for envelope in envelopes {
            let outcome = match envelope.body {
                Body::Delivery(meta) if held_channels.contains(&meta.channel) => continue,
                Body::Delivery(meta) => {
                    let channel = meta.channel.clone();
                    match self.prepare(envelope.id, meta, envelope.payload).await {
                        Ok(Prepared::Item(item, claim)) => {
                            items.push(item);
                            claims.push(claim);
                            None
                        }
                        Ok(Prepared::Known) => Some(AckOutcome::Duplicate),
                        Err(Refusal::Frame(error)) => return Err(error),
                        Err(Refusal::Hold { reason, quiet }) => {
                            if quiet {
                                tracing::debug!(id = %envelope.id, %channel, %reason, "delivery left for later");
                            } else {
                                tracing::error!(message = "delivery refused for now; the DMZ keeps it", id = %envelope.id, %channel, %reason);
                            }
                            held_channels.insert(channel);
                            continue;
                        }
                    }
                }
                Body::Heartbeat(_) => Some(AckOutcome::Committed),
                Body::ConfigPush(_) => Some(AckOutcome::Rejected { reason: "the inner owns the config".into() }),
                Body::Outcome(outcome) => Some(self.outcome(&outcome).await?),
                Body::PickedUp(event) => {
                    crate::outbound::record_picked_up(self.spool.as_ref(), envelope.id, &event).await?;
                    Some(AckOutcome::Committed)
                }
                other @ (Body::Fetch(_) | Body::Send(_)) => {
                    Some(AckOutcome::Rejected { reason: format!("the inner does not take {} envelopes", other.kind()) })
                }
            };
            outcomes.push((envelope.id, outcome));
        }
        let committed = self.spool.enqueue(INBOUND, items, true).await.map_err(ReceiveError::from)?;
        for claim in claims.iter().flatten() {
            self.fetches.committed(claim.id);
        }
        let mut committed = committed.into_iter();
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

    /// Records how a request ended (durably, before the ack).
    async fn outcome(&self, outcome: &RequestOutcome) -> Result<AckOutcome, ReceiveError> {
        match (outcome.kind, &self.jobs, &self.sends) {
            (RequestKind::Fetch, Some(jobs), _) => jobs.outcome(outcome).await?,
            (RequestKind::Send, _, Some(sends)) => sends.outcome(outcome).await?,
            _ => tracing::info!(
                message = "request outcome",
                request = %outcome.request,
                kind = ?outcome.kind,
                channel = %outcome.channel,
                ok = outcome.ok,
                detail = %outcome.detail
            ),
        }
        Ok(AckOutcome::Committed)
    }

    /// Turns a delivery into an `inbound` item after checking its bytes, or says
    /// why not. Nothing corrupt is ever delivered and nothing is dropped.
    async fn prepare(&self, id: EnvelopeId, meta: DeliveryMeta, payload: Option<Payload>) -> Result<Prepared, Refusal> {
        let hold = |reason: &str| Refusal::Hold { reason: reason.to_owned(), quiet: false };
        match payload {
            Some(Payload::Inline(bytes)) => {
                let sha256 = envelope::Sha256(sha2::Sha256::digest(&bytes).into());
                if bytes.len() as u64 != meta.size || sha256 != meta.sha256 {
                    return Err(hold("payload does not match its size or sha-256"));
                }
                Ok(Prepared::Item(item(id, meta, NewPayload::Bytes(bytes)), None))
            }
            Some(Payload::Reference { size, sha256 }) if size != meta.size || sha256 != meta.sha256 => {
                Err(hold("reference does not match the delivery's size or sha-256"))
            }
            Some(Payload::Reference { .. }) => self.fetch(id, meta).await,
            None => Err(hold("no payload")),
        }
    }

    /// Fetches a referenced payload into a staged spool file.
    async fn fetch(&self, id: EnvelopeId, meta: DeliveryMeta) -> Result<Prepared, Refusal> {
        let Some(source) = &self.source else {
            return Err(Refusal::Hold { reason: "no fetcher for payloads by reference".into(), quiet: false });
        };
        let claim = match self.fetches.start(id) {
            Ok(claim) => claim,
            Err(Start::Committed) => return Ok(Prepared::Known),
            Err(Start::Busy) => {
                return Err(Refusal::Hold { reason: "its payload is being fetched already".into(), quiet: true });
            }
        };
        let staged = fetch_staged(self.spool.clone(), source.clone(), id.to_string(), meta.size, meta.sha256).await;
        match staged {
            Ok(staged) => Ok(Prepared::Item(item(id, meta, NewPayload::Staged(staged)), Some(claim))),
            Err(StageError::Refused(reason)) => Err(Refusal::Hold { reason, quiet: false }),
            Err(StageError::Spool(error)) => Err(Refusal::Frame(error.into())),
        }
    }
}

fn item(id: EnvelopeId, meta: DeliveryMeta, payload: NewPayload) -> NewItem {
    NewItem {
        id: id.as_u128(),
        channel: Some(meta.channel.clone()),
        header: envelope::encode(&Body::Delivery(meta)),
        payload,
    }
}
