//! Concurrent commits share flushes.

use std::sync::Arc;

use spool::{NewItem, NewPayload, SledSpool, Spool, SpoolError, SpoolOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_flushes() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let spool = SledSpool::open(SpoolOptions::new(dir.path()))?;
    let before = spool.flush_count();
    let start = Arc::new(tokio::sync::Barrier::new(256));
    let tasks: Vec<_> = (0..256u128)
        .map(|id| {
            let spool = Arc::clone(&spool);
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                // A few file payloads so that directory fsyncs join the rounds too.
                let size = if id % 16 == 0 { 100_000 } else { 1024 };
                let item = NewItem {
                    id,
                    channel: Some(format!("c{}", id % 7)),
                    header: Vec::new(),
                    payload: NewPayload::Bytes(vec![id as u8; size]),
                };
                start.wait().await;
                spool.enqueue("q", vec![item], true).await
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| SpoolError::Io(std::io::Error::other(e)))??;
    }
    let flushes = spool.flush_count() - before;
    assert_eq!(spool.queue_stats("q").depth, 256);
    assert!(flushes >= 1, "nothing was flushed");
    assert!(flushes <= 64, "{flushes} flushes for 256 concurrent enqueues");
    eprintln!("256 concurrent enqueues took {flushes} flushes");
    Ok(())
}

/// A SIGKILL cannot tell a flushed write from one still in the page cache, so
/// this checks directly that every durable call waits for a flush that started
/// after its writes.
#[tokio::test]
async fn every_write_waits_for_a_flush() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let spool = SledSpool::open(SpoolOptions::new(dir.path()))?;
    for id in 0..5u128 {
        let before = spool.flush_count();
        let item = NewItem { id, channel: None, header: vec![1], payload: NewPayload::None };
        spool.enqueue("q", vec![item], id % 2 == 0).await?;
        assert!(spool.flush_count() > before, "enqueue returned without a flush");
    }
    let seqs: Vec<u64> = spool.lease("q", 2).await?.iter().map(|i| i.seq).collect();
    let before = spool.flush_count();
    spool.ack("q", &seqs, Vec::new()).await?;
    assert!(spool.flush_count() > before, "ack returned without a flush");
    let before = spool.flush_count();
    spool.write_state(vec![spool::StateWrite::Put("k".into(), vec![1])]).await?;
    assert!(spool.flush_count() > before, "write_state returned without a flush");
    let before = spool.flush_count();
    assert_eq!(spool.prune_seen(u64::MAX).await?, 3);
    assert!(spool.flush_count() > before, "prune_seen returned without a flush");
    Ok(())
}
