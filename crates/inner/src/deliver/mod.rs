//! The deliverer: takes committed deliveries from the `inbound` queue and puts
//! them in place, exactly once in effect, in order per channel.
//!
//! One round: lease a batch → plan each item ([`plan`]) → record the new intents
//! (one commit) → write and fsync the files under temp names, several at once →
//! rename them into place in batch order (so a channel's files appear in order) →
//! fsync each directory once ([`write`]) → ack the placed items together with their
//! journal records and intent deletions (one commit). A crash
//! anywhere repeats the round for the unacked items, which find their intents and
//! rewrite the same files, so the effect is one file and one journal record.
//!
//! A write that fails (a full or read-only disk) stops the round at that item; the
//! items from there on stay leased (so their channels keep their order) during a
//! capped backoff, then are released and retried. Nothing is ever dropped.

pub mod journal;
pub mod plan;
pub mod write;

use std::sync::Arc;
use std::time::Duration;

use spool::{Seq, Spool, StateWrite};
use tokio_util::sync::CancellationToken;

use crate::INBOUND;
use crate::settings::CurrentSettings;
use journal::{DeliveryRecord, intent_key, now_micros, record_key};
use plan::{Destination, Planned};
use write::Prepared;

/// Items leased per round.
const BATCH: usize = 64;
/// Files written and fsynced at once within a batch.
const PARALLEL_WRITES: usize = 8;
const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Delivers the `inbound` queue.
pub struct Deliverer {
    pub spool: Arc<dyn Spool>,
    pub settings: CurrentSettings,
}

impl Deliverer {
    /// Runs until `shutdown`; a round in progress finishes first.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut changes = self.spool.subscribe(INBOUND);
        let mut retry = FIRST_RETRY;
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
            let undelivered = self.round(items).await;
            if undelivered.is_empty() {
                retry = FIRST_RETRY;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = shutdown.cancelled() => {}
            }
            self.spool.release(INBOUND, &undelivered);
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    /// Delivers what it can of one batch; returns the seqs left undelivered.
    async fn round(&self, items: Vec<spool::StoredItem>) -> Vec<Seq> {
        let settings = self.settings.get();
        let mut planned: Vec<Planned> =
            items.into_iter().map(|i| plan::plan(i, &settings, self.spool.as_ref())).collect();
        if let Err(error) = self.spool.write_state(intents(&planned)).await {
            tracing::error!(message = "cannot record delivery intents", %error);
            return planned.iter().map(|p| p.item.seq).collect();
        }
        let prepared = prepare_all(&planned).await;
        let in_place = tokio::task::spawn_blocking(move || publish_in_order(prepared)).await.unwrap_or(0);
        let rest = planned.split_off(in_place);
        let mut undelivered = self.finish(planned).await;
        undelivered.extend(rest.iter().map(|p| p.item.seq));
        undelivered
    }

    /// Acks the delivered items with their journal records; returns the seqs
    /// that could not be acked (to be retried: their intents make that safe).
    async fn finish(&self, done: Vec<Planned>) -> Vec<Seq> {
        let seqs: Vec<Seq> = done.iter().map(|p| p.item.seq).collect();
        let mut writes = Vec::with_capacity(done.len() * 2);
        for planned in &done {
            let record = record(planned);
            log_delivery(&record);
            writes.push(StateWrite::Put(record_key(&planned.id), serde_json::to_vec(&record).unwrap_or_default()));
            writes.push(StateWrite::Delete(intent_key(&planned.id)));
        }
        match self.spool.ack(INBOUND, &seqs, writes).await {
            Ok(()) => Vec::new(),
            Err(error) => {
                tracing::error!(message = "cannot ack deliveries", %error);
                seqs
            }
        }
    }
}

fn intents(planned: &[Planned]) -> Vec<StateWrite> {
    planned
        .iter()
        .filter(|p| p.new_intent)
        .map(|p| StateWrite::Put(intent_key(&p.id), p.destination.target().to_string_lossy().into_owned().into_bytes()))
        .collect()
}

/// Writes and fsyncs every planned file, [`PARALLEL_WRITES`] at a time; the
/// results come back in plan order.
async fn prepare_all(planned: &[Planned]) -> Vec<std::io::Result<Prepared>> {
    let mut results = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(PARALLEL_WRITES) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|p| {
                let (target, payload, tag) =
                    (p.destination.target().to_path_buf(), p.item.payload.clone(), p.id.clone());
                tokio::task::spawn_blocking(move || write::prepare(&target, &payload, &tag))
            })
            .collect();
        for (task, planned) in tasks.into_iter().zip(chunk) {
            let result = task.await.map_err(std::io::Error::other).and_then(|r| r);
            if let Err(error) = &result {
                tracing::warn!(message = "delivery failed; will retry", id = %planned.id, target = %planned.destination.target().display(), %error);
            }
            results.push(result);
        }
    }
    results
}

/// Renames the prepared files into place in plan order, up to the first failure,
/// and fsyncs their directories; discards the rest. Returns how many leading
/// items are durably in place.
fn publish_in_order(prepared: Vec<std::io::Result<Prepared>>) -> usize {
    let mut published = Vec::new();
    let mut stopped = false;
    for result in prepared {
        match result {
            Ok(file) if !stopped => match file.publish() {
                Ok(()) => published.push(file),
                Err(error) => {
                    tracing::warn!(message = "delivery failed; will retry", target = %file.target().display(), %error);
                    file.discard();
                    stopped = true;
                }
            },
            Ok(file) => file.discard(),
            Err(_) => stopped = true,
        }
    }
    match write::sync_parents(published.iter().map(Prepared::target)) {
        Ok(()) => published.len(),
        Err(error) => {
            tracing::warn!(message = "cannot fsync delivery directories; will retry", %error);
            0
        }
    }
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
    }
}

fn log_delivery(record: &DeliveryRecord) {
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
mod tests {
    use super::*;
    use spool::StoredPayload;

    #[test]
    fn publishing_stops_at_the_first_failure_and_leaves_no_temp_files() {
        let root = tempfile::tempdir().expect("tempdir");
        let bytes = |b: &[u8]| StoredPayload::Inline(b.to_vec());
        std::fs::write(root.path().join("not-a-dir"), b"").expect("file");
        let prepared = vec![
            write::prepare(&root.path().join("out/a.txt"), &bytes(b"a"), "A"),
            write::prepare(&root.path().join("not-a-dir/b.txt"), &bytes(b"b"), "B"),
            write::prepare(&root.path().join("out/c.txt"), &bytes(b"c"), "C"),
        ];
        assert!(prepared[1].is_err());
        assert_eq!(publish_in_order(prepared), 1);
        let names: Vec<_> =
            std::fs::read_dir(root.path().join("out")).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("a.txt")],
            "c must not appear before b, and no temp file may stay"
        );
    }
}
