//! The receiving end: the role's [`Receiver`] commits envelopes durably.

use std::sync::Arc;

use envelope::{Ack, AckOutcome, Body, Envelope};
use spool::{Enqueued, Spool, SpoolError};

use crate::outbox::new_item;

/// Commits envelopes that arrived from the peer, durably, before they are acked.
#[async_trait::async_trait]
pub trait Receiver: Send + Sync + 'static {
    /// Commits envelopes durably (or rejects them) and acks each one it committed
    /// or refused for good. An envelope left without an ack stays with the sender
    /// and comes again later (acks are matched by id). Err means "could not commit
    /// now" (spool full / I/O): the HTTP layer answers 503 (507 for insufficient
    /// storage) and the sender retries the whole frame later.
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError>;
}

/// Why a receiver could not commit a frame now; the sender retries it later.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("insufficient storage")]
    InsufficientStorage,
    #[error("cannot commit now: {0}")]
    Unavailable(String),
}

impl From<SpoolError> for ReceiveError {
    fn from(error: SpoolError) -> Self {
        match error {
            SpoolError::InsufficientStorage { .. } => ReceiveError::InsufficientStorage,
            other => ReceiveError::Unavailable(other.to_string()),
        }
    }
}

/// Hands envelopes to `receiver`, except heartbeats: those prove liveness only and
/// are acked `Committed` here without reaching the receiver.
pub(crate) async fn commit(receiver: &dyn Receiver, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
    let (heartbeats, real): (Vec<Envelope>, Vec<Envelope>) =
        envelopes.into_iter().partition(|e| matches!(e.body, Body::Heartbeat(_)));
    let mut acks = Vec::with_capacity(heartbeats.len() + real.len());
    if !real.is_empty() {
        let expected = real.len();
        acks = receiver.receive(real).await?;
        if acks.len() != expected {
            // Acks are matched by id: the unacked ones are redelivered later.
            tracing::debug!(expected, acked = acks.len(), "receiver left envelopes unacked");
        }
    }
    acks.extend(heartbeats.into_iter().map(|e| Ack { id: e.id, outcome: AckOutcome::Committed }));
    Ok(acks)
}

/// A [`Receiver`] that enqueues every envelope into one spool queue, deduplicated
/// by envelope id (a redelivered envelope is acked [`AckOutcome::Duplicate`]).
pub struct SpoolReceiver {
    spool: Arc<dyn Spool>,
    queue: String,
}

impl SpoolReceiver {
    pub fn new(spool: Arc<dyn Spool>, queue: impl Into<String>) -> Self {
        SpoolReceiver { spool, queue: queue.into() }
    }
}

#[async_trait::async_trait]
impl Receiver for SpoolReceiver {
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let ids: Vec<_> = envelopes.iter().map(|e| e.id).collect();
        let items = envelopes
            .into_iter()
            .map(new_item)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ReceiveError::Unavailable(e.to_string()))?;
        let outcomes = self.spool.enqueue(&self.queue, items, true).await?;
        Ok(ids.into_iter().zip(outcomes).map(|(id, outcome)| ack_for(id, outcome)).collect())
    }
}

/// The ack for an envelope enqueued with dedupe.
pub fn ack_for(id: envelope::EnvelopeId, outcome: Enqueued) -> Ack {
    let outcome = match outcome {
        Enqueued::Added(_) => AckOutcome::Committed,
        Enqueued::Duplicate => AckOutcome::Duplicate,
    };
    Ack { id, outcome }
}
