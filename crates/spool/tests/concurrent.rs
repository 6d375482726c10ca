//! Concurrent enqueues, leases and (doubled) acks on one queue: every item is
//! handed out, and once all are acked the counters and the quota are back to
//! zero (each removal is accounted exactly once).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use spool::{NewItem, NewPayload, SledSpool, Spool, SpoolError, SpoolOptions};

const PRODUCERS: u128 = 8;
const PER_PRODUCER: u128 = 50;
const TOTAL: usize = (PRODUCERS * PER_PRODUCER) as usize;

fn join_err(e: tokio::task::JoinError) -> SpoolError {
    SpoolError::Io(std::io::Error::other(e))
}

async fn produce(spool: Arc<SledSpool>, producer: u128) -> Result<(), SpoolError> {
    for n in 0..PER_PRODUCER {
        let id = producer * 1000 + n;
        let size = if n % 10 == 0 { 70_000 } else { 100 };
        let item = NewItem {
            id,
            channel: (n % 5 != 0).then(|| format!("c{}", id % 3)),
            header: vec![1; 7],
            payload: NewPayload::Bytes(vec![n as u8; size]),
        };
        spool.enqueue("q", vec![item], true).await?;
    }
    Ok(())
}

/// Leases and acks until all items were seen; every batch is acked twice at
/// once, so that both acks race for the same records.
async fn consume(spool: Arc<SledSpool>, seen: Arc<Mutex<HashSet<u128>>>) -> Result<(), SpoolError> {
    let mut changes = spool.subscribe("q");
    loop {
        let items = spool.lease("q", 4).await?;
        if items.is_empty() {
            if seen.lock().map_or(0, |s| s.len()) >= TOTAL {
                return Ok(());
            }
            let _ = tokio::time::timeout(std::time::Duration::from_millis(20), changes.changed()).await;
            continue;
        }
        let seqs: Vec<u64> = items.iter().map(|i| i.seq).collect();
        if let Ok(mut seen) = seen.lock() {
            seen.extend(items.iter().map(|i| i.id));
        }
        let twin = Arc::clone(&spool);
        let again = seqs.clone();
        let other = tokio::spawn(async move { twin.ack("q", &again, Vec::new()).await });
        spool.ack("q", &seqs, Vec::new()).await?;
        other.await.map_err(join_err)??;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_acks_account_once() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let spool = SledSpool::open(SpoolOptions::new(dir.path()))?;
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = Vec::new();
    for producer in 0..PRODUCERS {
        tasks.push(tokio::spawn(produce(Arc::clone(&spool), producer)));
    }
    for _ in 0..3 {
        tasks.push(tokio::spawn(consume(Arc::clone(&spool), Arc::clone(&seen))));
    }
    for task in tasks {
        task.await.map_err(join_err)??;
    }
    assert_eq!(seen.lock().map_or(0, |s| s.len()), TOTAL);
    assert_eq!(spool.queue_stats("q"), spool::QueueStats::default());
    assert_eq!(spool.usage().used_bytes, 0);
    drop(spool);
    let spool = SledSpool::open(SpoolOptions::new(dir.path()))?;
    assert_eq!(spool.queue_stats("q"), spool::QueueStats::default());
    assert_eq!(spool.usage().used_bytes, 0);
    Ok(())
}
