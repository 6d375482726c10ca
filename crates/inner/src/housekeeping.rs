//! Keeps the inner's spool from growing without bound: dedupe entries and journal
//! records older than [`RETENTION`] are forgotten, at start-up and every hour.
//!
//! Forgetting a dedupe entry is safe long before 30 days: the DMZ redelivers an
//! envelope only while it is unacked, and the inner acks within one exchange of
//! committing it.

use std::sync::Arc;
use std::time::Duration;

use spool::{Spool, SpoolError, StateWrite};
use tokio_util::sync::CancellationToken;

use crate::deliver::journal::{DeliveryRecord, RECORD_PREFIX};

/// How long dedupe entries and journal records are kept.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

const EVERY: Duration = Duration::from_secs(3600);

/// Prunes now and then every hour, until `shutdown`.
pub async fn run(spool: Arc<dyn Spool>, shutdown: CancellationToken) {
    loop {
        let cutoff = envelope::now_millis().saturating_sub(RETENTION.as_millis() as u64);
        if let Err(error) = prune(spool.as_ref(), cutoff).await {
            tracing::warn!(message = "housekeeping failed; will retry", %error);
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Forgets what was seen or delivered before `cutoff` (Unix ms).
pub async fn prune(spool: &dyn Spool, cutoff: u64) -> Result<(), SpoolError> {
    let seen = spool.prune_seen(cutoff).await?;
    let old: Vec<StateWrite> = spool
        .scan_state(RECORD_PREFIX)?
        .into_iter()
        .filter(|(_, bytes)| {
            serde_json::from_slice::<DeliveryRecord>(bytes).is_ok_and(|r| r.delivered_at_us / 1000 < cutoff)
        })
        .map(|(key, _)| StateWrite::Delete(key))
        .collect();
    let records = old.len();
    if !old.is_empty() {
        spool.write_state(old).await?;
    }
    if seen + records as u64 > 0 {
        tracing::info!(message = "housekeeping", dedupe_entries_forgotten = seen, journal_records_forgotten = records);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::journal::record_key;
    use spool::{Enqueued, NewItem, NewPayload, SledSpool, SpoolOptions};

    fn record(id: &str, delivered_at_us: u64) -> StateWrite {
        let record = DeliveryRecord {
            id: id.into(),
            channel: "c".into(),
            path: "p".into(),
            protocol: "admin".into(),
            partner_login: None,
            partner_remote: None,
            size: 0,
            sha256: String::new(),
            received_at: 0,
            delivered_at_us,
            outcome: "delivered".into(),
            profile: None,
            target: "/t".into(),
            reason: None,
            mail: None,
        };
        StateWrite::Put(record_key(id), serde_json::to_vec(&record).expect("json"))
    }

    fn item(id: u128) -> NewItem {
        NewItem { id, channel: None, header: vec![], payload: NewPayload::None }
    }

    #[tokio::test]
    async fn forgets_only_what_is_older_than_the_cutoff() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = SledSpool::open(SpoolOptions::new(dir.path().to_path_buf())).expect("spool");
        let now = envelope::now_millis();
        spool.write_state(vec![record("old", 1_000_000), record("new", now * 1000)]).await.expect("records");
        spool.enqueue("q", vec![item(7)], true).await.expect("enqueue");
        assert_eq!(spool.enqueue("q", vec![item(7)], true).await.expect("again"), vec![Enqueued::Duplicate]);

        prune(spool.as_ref(), now.saturating_sub(60_000)).await.expect("prune keeps recent");
        assert_eq!(spool.enqueue("q", vec![item(7)], true).await.expect("again"), vec![Enqueued::Duplicate]);
        let keys: Vec<String> = spool.scan_state(RECORD_PREFIX).expect("scan").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![record_key("new")]);

        prune(spool.as_ref(), now + 60_000).await.expect("prune all seen");
        let after = spool.enqueue("q", vec![item(7)], true).await.expect("after");
        assert!(matches!(after[..], [Enqueued::Added(_)]), "{after:?}");
    }
}
