//! The deliverer: takes committed deliveries from the `inbound` queue and puts
//! them in place, exactly once in effect, in order per channel.
//!
//! One round: lease a batch → plan each item ([`plan`]) → record the new intents
//! (one commit) → write and fsync the files under temp names, several at once →
//! rename them into place in batch order (so a channel's files appear in order) →
//! fsync each directory once ([`place`]) → ack the placed items together with their
//! journal records and intent deletions (one commit), after committing the
//! responses of profiles that answer deliveries ([`crate::outbound::responses`]). A crash
//! anywhere repeats the round for the unacked items, which find their intents and
//! rewrite the same files, so the effect is one file and one journal record.
//!
//! A write that fails (a full disk, a target directory that cannot be created)
//! holds back only its channel: that item and its channel's later items stay
//! leased (so the channel keeps its order) for a growing, capped delay
//! ([`retry`]), then are released and retried; other channels keep flowing.
//! Nothing is ever dropped.

pub mod journal;
mod place;
pub mod plan;
mod retry;
mod unpack;
pub mod write;

use std::collections::HashSet;
use std::sync::Arc;

use spool::{Seq, Spool, StateWrite};
use tokio_util::sync::CancellationToken;

use crate::INBOUND;
use crate::outbound::Sends;
use crate::settings::CurrentSettings;
use crate::stats::DeliveryStats;
use journal::{DeliveryRecord, intent_key, now_micros, record_key};
use place::Placement;
use plan::{Destination, Planned};
use retry::{ChannelRetries, release_later};

/// Items leased per round.
const BATCH: usize = 64;

/// Delivers the `inbound` queue.
pub struct Deliverer {
    pub spool: Arc<dyn Spool>,
    pub settings: CurrentSettings,
    /// Where profile responses are committed; `None`: none are sent.
    pub responses: Option<Arc<Sends>>,
    pub stats: Arc<DeliveryStats>,
}

impl Deliverer {
    /// Runs until `shutdown`; a round in progress finishes first.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut changes = self.spool.subscribe(INBOUND);
        let mut retries = ChannelRetries::default();
        while !shutdown.is_cancelled() {
            changes.borrow_and_update();
            let items = match self.spool.lease(INBOUND, BATCH).await {
                Ok(items) => items,
                Err(error) => {
                    tracing::error!(message = "cannot lease deliveries", %error);
                    Vec::new()
                }
            };
            if items.is_empty() {
                tokio::select! {
                    _ = changes.changed() => {}
                    () = shutdown.cancelled() => {}
                }
                continue;
            }
            let outcome = self.round(items).await;
            outcome.delivered.iter().for_each(|channel| retries.succeeded(channel));
            for (channel, seqs) in outcome.failed {
                release_later(Arc::clone(&self.spool), seqs, retries.failed(&channel), shutdown.clone());
            }
        }
    }

    /// Delivers what it can of one batch.
    async fn round(&self, items: Vec<spool::StoredItem>) -> Outcome {
        let settings = self.settings.get();
        let planned = plan::plan_batch(items, &settings, self.spool.as_ref());
        if let Err(error) = self.spool.write_state(intents(&planned)).await {
            tracing::error!(message = "cannot record delivery intents", %error);
            return Outcome::failed(&planned);
        }
        let channels: Vec<String> = planned.iter().map(channel_of).collect();
        // Looked at before the writes: one of this batch's writes may create a root
        // that another item's failed write needed (see `place::impossible`).
        let roots_ready: Vec<bool> = planned.iter().map(|p| p.root().is_dir()).collect();
        let prepared = place::prepare_all(&planned).await;
        let placements =
            tokio::task::spawn_blocking(move || place::publish_in_order(&channels, &roots_ready, prepared))
                .await
                .unwrap_or_else(|_| vec![Placement::Held; planned.len()]);
        let (mut done, mut held) = (Vec::new(), Vec::new());
        for (planned, placement) in planned.into_iter().zip(placements) {
            match placement {
                Placement::Placed => done.push(planned),
                Placement::Held => held.push(planned),
                Placement::Impossible(reason) => match set_aside(planned, &settings.data_dir, reason).await {
                    Ok(planned) => done.push(planned),
                    Err(planned) => held.push(*planned),
                },
            }
        }
        if let Err(error) = self.finish(&done).await {
            tracing::error!(message = "cannot ack deliveries", %error);
            return Outcome::failed(&done.into_iter().chain(held).collect::<Vec<_>>());
        }
        held.iter().for_each(|planned| self.stats.failed(&channel_of(planned)));
        Outcome { delivered: done.iter().map(channel_of).collect(), failed: Outcome::failed(&held).failed }
    }

    /// Acks the delivered items with their journal records and intent
    /// deletions, in one commit. On failure they are retried: their intents
    /// make rewriting them safe.
    async fn finish(&self, done: &[Planned]) -> Result<(), spool::SpoolError> {
        if done.is_empty() {
            return Ok(());
        }
        if let Some(sends) = &self.responses {
            crate::outbound::responses::respond(sends, &self.settings.get(), done).await?;
        }
        let seqs: Vec<Seq> = done.iter().map(|p| p.item.seq).collect();
        let records: Vec<DeliveryRecord> = done.iter().map(record).collect();
        let mut writes = Vec::with_capacity(done.len() * 2);
        for record in &records {
            writes.push(StateWrite::Put(record_key(&record.id), serde_json::to_vec(record).unwrap_or_default()));
            writes.push(StateWrite::Delete(intent_key(&record.id)));
        }
        self.spool.ack(INBOUND, &seqs, writes).await?;
        for record in &records {
            log_delivery(record);
            self.stats.delivered(&record.channel, &record.protocol, &record.outcome, record.size);
        }
        Ok(())
    }
}

/// What a round did: channels that delivered, and per failing channel the seqs
/// to retry later.
struct Outcome {
    delivered: HashSet<String>,
    failed: Vec<(String, Vec<Seq>)>,
}

impl Outcome {
    /// Every item of `planned` failed.
    fn failed(planned: &[Planned]) -> Outcome {
        let mut failed: Vec<(String, Vec<Seq>)> = Vec::new();
        for item in planned {
            let channel = channel_of(item);
            match failed.iter_mut().find(|(c, _)| *c == channel) {
                Some((_, seqs)) => seqs.push(item.item.seq),
                None => failed.push((channel, vec![item.item.seq])),
            }
        }
        Outcome { delivered: HashSet::new(), failed }
    }
}

/// The channel a planned item belongs to ("" for a record that is no delivery).
fn channel_of(planned: &Planned) -> String {
    planned.meta.as_ref().map(|m| m.channel.clone()).unwrap_or_default()
}

/// Keeps a delivery whose target can never be written in
/// `<data_dir>/unroutable/<id>`, so it does not block its channel.
async fn set_aside(mut planned: Planned, data_dir: &std::path::Path, reason: String) -> Result<Planned, Box<Planned>> {
    let target = data_dir.join("unroutable").join(&planned.id);
    let reason = format!("cannot write {}: {reason}", planned.destination.target().display());
    let (path, payload, tag) = (target.clone(), planned.item.payload.clone(), planned.id.clone());
    match tokio::task::spawn_blocking(move || write::write_atomically(&path, &payload, &tag)).await {
        Ok(Ok(())) => {
            planned.destination = Destination::Unroutable { target, reason };
            Ok(planned)
        }
        Ok(Err(error)) => {
            tracing::error!(message = "cannot set an undeliverable delivery aside; will retry", id = %planned.id, %error);
            Err(Box::new(planned))
        }
        Err(_) => Err(Box::new(planned)),
    }
}

fn intents(planned: &[Planned]) -> Vec<StateWrite> {
    planned
        .iter()
        .filter(|p| p.new_intent)
        .map(|p| StateWrite::Put(intent_key(&p.id), p.destination.target().to_string_lossy().into_owned().into_bytes()))
        .collect()
}

fn record(planned: &Planned) -> DeliveryRecord {
    let meta = planned.meta.as_ref();
    let (outcome, profile, reason) = match &planned.destination {
        Destination::Profile { name, .. } => ("delivered", Some(name.clone()), None),
        Destination::Unroutable { reason, .. } => ("unroutable", None, Some(reason.clone())),
    };
    DeliveryRecord {
        id: planned.id.clone(),
        channel: meta.map(|m| m.channel.clone()).unwrap_or_default(),
        path: meta.map(|m| m.path.clone()).unwrap_or_default(),
        protocol: meta.map(|m| m.protocol.to_string()).unwrap_or_default(),
        partner_login: meta.and_then(|m| m.partner.login.clone()),
        partner_remote: meta.and_then(|m| m.partner.remote.map(|r| r.to_string())),
        size: planned.item.payload.size(),
        sha256: meta.map(|m| m.sha256.to_string()).unwrap_or_default(),
        received_at: meta.map_or(0, |m| m.received_at),
        delivered_at_us: now_micros(),
        outcome: outcome.into(),
        profile,
        target: planned.destination.target().to_string_lossy().into_owned(),
        reason,
        mail: meta.and_then(|m| m.mail.as_deref().cloned()),
    }
}

fn log_delivery(record: &DeliveryRecord) {
    tracing::info!(
        target: "audit",
        event = "delivered",
        id = %record.id,
        channel = %record.channel,
        path = %record.path,
        protocol = %record.protocol,
        size = record.size,
        sha256 = %record.sha256,
        outcome = %record.outcome,
        login = record.partner_login.as_deref().unwrap_or("-"),
        remote = record.partner_remote.as_deref().unwrap_or("-"),
        target_path = %record.target,
    );
    if record.outcome == "delivered" {
        tracing::info!(
            message = "delivered",
            id = %record.id,
            channel = %record.channel,
            path = %record.path,
            protocol = %record.protocol,
            partner_login = record.partner_login.as_deref().unwrap_or("-"),
            partner_remote = record.partner_remote.as_deref().unwrap_or("-"),
            size = record.size,
            target = %record.target,
        );
    } else {
        tracing::error!(message = "delivery unroutable; kept aside", id = %record.id, channel = %record.channel, path = %record.path, reason = record.reason.as_deref().unwrap_or(""), target = %record.target);
    }
}

#[cfg(test)]
mod tests;
