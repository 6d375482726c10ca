//! The one path every partner delivery takes into the DMZ: check the channel and
//! path against the pushed config, hash, commit durably to the `to-inner` queue.
//! Files that outbound fetch jobs collect come the same way (with
//! [`Arrival::fetched`] set and the id the transfer derived, deduplicated).
//! Only when [`Intake::accept`] returns `Ok` may a protocol tell the partner
//! "success".

use std::sync::Arc;

use envelope::{
    As2Meta, Body, ChannelVerifiers, DeliveryMeta, EnvelopeId, FetchedMeta, MailMeta, Partner, PathError, Protocol,
    Sha256, WhenInnerDown,
};
use message_service::{Link, LinkState};
use sha2::Digest;
use spool::{NewItem, NewPayload, Spool, SpoolError};

use crate::TO_INNER;
use crate::active::ActiveConfig;
use crate::gate::Gate;
use crate::stats::PartnerStats;
pub use crate::streamed::StreamedDelivery;

/// Who delivered what, before the bytes are looked at.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The envelope's id, chosen on arrival (a mail's path is named after it).
    pub id: EnvelopeId,
    pub channel: String,
    pub protocol: Protocol,
    pub partner: Partner,
    pub path: String,
    /// SMTP only: the mail envelope.
    pub mail: Option<MailMeta>,
    /// AS2 only: the message's identity and security.
    pub as2: Option<As2Meta>,
    /// Fetched by a job from a partner's server (not uploaded by the partner).
    pub fetched: Option<FetchedMeta>,
}

/// Why a delivery was not accepted. Each protocol maps these to its own reply.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("no channel named {0:?}")]
    UnknownChannel(String),
    #[error("bad path: {0}")]
    BadPath(#[from] PathError),
    #[error("insufficient storage")]
    InsufficientStorage,
    #[error("spool unavailable: {0}")]
    Unavailable(String),
    /// The channel says `when_inner_down = "refuse"` and the link to the inner is down.
    #[error("the inner node is unreachable; this channel takes deliveries again when it is back")]
    InnerDown,
}

impl From<SpoolError> for IntakeError {
    fn from(error: SpoolError) -> Self {
        match error {
            SpoolError::InsufficientStorage { .. } => IntakeError::InsufficientStorage,
            other => IntakeError::Unavailable(other.to_string()),
        }
    }
}

/// A delivery that is durable in the spool.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub id: EnvelopeId,
    pub size: u64,
    pub sha256: Sha256,
}

/// Whether a delivery whose id the spool has seen before is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dedupe {
    No,
    Yes,
}

/// Accepts partner deliveries into the spool.
#[derive(Clone)]
pub struct Intake {
    spool: Arc<dyn Spool>,
    config: ActiveConfig,
    /// The link to the inner, for channels that refuse deliveries while it is down.
    link: Option<Link>,
    stats: Arc<PartnerStats>,
    gate: Arc<Gate>,
}

impl Intake {
    pub fn new(spool: Arc<dyn Spool>, config: ActiveConfig) -> Self {
        Intake { spool, config, link: None, stats: Arc::default(), gate: Arc::default() }
    }

    /// Starts with `gate` (e.g. restored paused) instead of an open one.
    pub fn with_gate(self, gate: Gate) -> Self {
        Intake { gate: Arc::new(gate), ..self }
    }

    /// Refuses the deliveries of `when_inner_down = "refuse"` channels while `link` is down.
    pub fn watching(self, link: Link) -> Self {
        Intake { link: Some(link), ..self }
    }

    /// The partner counters this intake and its gateway keep.
    pub fn stats(&self) -> &Arc<PartnerStats> {
        &self.stats
    }

    /// Whether partner listeners take new connections (paused by an operator).
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    /// Whether `channel` takes no deliveries now because the inner is unreachable.
    pub fn refuses_while_inner_down(&self, channel: &ChannelVerifiers) -> bool {
        channel.when_inner_down == WhenInnerDown::Refuse
            && self.link.as_ref().is_some_and(|link| matches!(link.state(), LinkState::Down { .. }))
    }

    /// Refuses unknown channels and unsafe paths before any bytes are taken.
    pub fn check(&self, arrival: &Arrival) -> Result<(), IntakeError> {
        let config = self.config.get();
        let Some(channel) = config.channel(&arrival.channel) else {
            return Err(IntakeError::UnknownChannel(arrival.channel.clone()));
        };
        if self.refuses_while_inner_down(channel) {
            tracing::info!(message = "delivery refused: inner unreachable", channel = %channel.name, policy = "refuse");
            return Err(IntakeError::InnerDown);
        }
        envelope::validate_path(&arrival.path)?;
        Ok(())
    }

    /// Commits a complete payload; returns once it is durable.
    pub async fn accept(&self, arrival: Arrival, bytes: Vec<u8>) -> Result<Accepted, IntakeError> {
        self.check(&arrival)?;
        let sha256 = Sha256(sha2::Sha256::digest(&bytes).into());
        let size = bytes.len() as u64;
        let accepted = self.enqueue(arrival, size, sha256, NewPayload::Bytes(bytes), Dedupe::No).await?;
        accepted.ok_or_else(|| IntakeError::Unavailable("delivery taken for a duplicate".into()))
    }

    /// Starts a streamed delivery: bytes go to a spool staging file as they come
    /// (see [`StreamedDelivery`]).
    pub async fn begin(&self, arrival: Arrival) -> Result<StreamedDelivery, IntakeError> {
        self.check(&arrival)?;
        Ok(StreamedDelivery::new(self.clone(), arrival))
    }

    pub(crate) fn spool(&self) -> &Arc<dyn Spool> {
        &self.spool
    }

    /// Enqueues one delivery; with [`Dedupe::Yes`], `None` if its id was seen.
    pub(crate) async fn enqueue(
        &self,
        arrival: Arrival,
        size: u64,
        sha256: Sha256,
        payload: NewPayload,
        dedupe: Dedupe,
    ) -> Result<Option<Accepted>, IntakeError> {
        let (id, protocol, channel) = (arrival.id, arrival.protocol, arrival.channel.clone());
        let (path, login) = (arrival.path.clone(), arrival.partner.login.clone());
        let remote = arrival.partner.remote.map_or_else(|| "-".to_owned(), |r| r.to_string());
        let item = self.item(arrival, size, sha256, payload);
        let outcome = self.spool.enqueue(TO_INNER, vec![item], dedupe == Dedupe::Yes).await?;
        let added = outcome.first() != Some(&spool::Enqueued::Duplicate);
        if added {
            self.stats.delivery(&channel, protocol, size);
            let login = login.as_deref().unwrap_or("-");
            tracing::info!(target: "audit", event = "received", %id, channel, %protocol, path, size, %sha256, login, remote);
        }
        Ok(added.then_some(Accepted { id, size, sha256 }))
    }

    /// The spool item of a delivery: its envelope body and payload.
    fn item(&self, arrival: Arrival, size: u64, sha256: Sha256, payload: NewPayload) -> NewItem {
        let id = arrival.id;
        let meta = DeliveryMeta {
            channel: arrival.channel,
            protocol: arrival.protocol,
            partner: arrival.partner,
            path: arrival.path,
            received_at: envelope::now_millis(),
            size,
            sha256,
            mail: arrival.mail.map(Box::new),
            as2: arrival.as2.map(Box::new),
            fetched: arrival.fetched.map(Box::new),
        };
        NewItem {
            id: id.as_u128(),
            channel: Some(meta.channel.clone()),
            header: envelope::encode(&Body::Delivery(meta)),
            payload,
        }
    }
}
