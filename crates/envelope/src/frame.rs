//! The unit of one HTTP body ([`Frame`]), acks, and the [`Hello`] handshake.

use serde::{Deserialize, Serialize};

use crate::{Body, EnvelopeId, Payload};

/// One message between the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: EnvelopeId,
    pub body: Body,
    /// The bytes, for kinds that carry them ([`Body::Delivery`]).
    pub payload: Option<Payload>,
}

/// One request or response body of the MessageService.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub envelopes: Vec<Envelope>,
    /// Acks for envelopes the other side sent earlier.
    pub acks: Vec<Ack>,
}

impl Frame {
    pub fn is_empty(&self) -> bool {
        self.envelopes.is_empty() && self.acks.is_empty()
    }
}

/// "I have committed this envelope durably (or will never take it)."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub id: EnvelopeId,
    pub outcome: AckOutcome,
}

/// What the receiver did with an envelope. Every outcome lets the sender delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckOutcome {
    /// Durably committed.
    Committed,
    /// Seen before (same id); not committed twice.
    Duplicate,
    /// Refused for good (e.g. a path the receiver will not write); kept nowhere,
    /// logged by both sides.
    Rejected { reason: String },
}

/// Which role a node plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    Dmz,
    Inner,
}

/// The handshake, sent by whichever node dials, answered in kind by the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u16,
    pub node_id: String,
    pub role: NodeRole,
}
