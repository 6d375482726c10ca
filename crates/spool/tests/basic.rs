//! Straightforward behaviour of the sled spool, one feature at a time.

use std::sync::Arc;

use spool::{Enqueued, NewItem, NewPayload, SledSpool, Spool, SpoolError, SpoolOptions, StateWrite, StoredPayload};

fn open(dir: &std::path::Path) -> Arc<SledSpool> {
    SledSpool::open(SpoolOptions::new(dir)).expect("open spool")
}

fn item(id: u128, channel: Option<&str>, payload: NewPayload) -> NewItem {
    NewItem { id, channel: channel.map(str::to_string), header: vec![id as u8; 3], payload }
}

fn added(outcome: &Enqueued) -> u64 {
    match outcome {
        Enqueued::Added(seq) => *seq,
        Enqueued::Duplicate => panic!("unexpected duplicate"),
    }
}

#[tokio::test]
async fn enqueue_lease_ack_and_reopen() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let spool = open(dir.path());
    let big = vec![7u8; 100_000];
    let out = spool
        .enqueue(
            "q",
            vec![
                item(1, Some("a"), NewPayload::Bytes(b"small".to_vec())),
                item(2, None, NewPayload::Bytes(big.clone())),
                item(3, Some("a"), NewPayload::None),
            ],
            false,
        )
        .await?;
    let seqs: Vec<u64> = out.iter().map(added).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(spool.queue_stats("q").depth, 3);
    assert_eq!(spool.queue_stats("q").bytes, 100_005);
    assert_eq!(spool.usage().used_bytes, 100_005 + 9);

    let leased = spool.lease("q", 10).await?;
    assert_eq!(leased.iter().map(|i| i.id).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(leased[0].payload, StoredPayload::Inline(b"small".to_vec()));
    assert!(matches!(leased[1].payload, StoredPayload::File { size: 100_000, .. }));
    assert_eq!(leased[1].payload.read_all().await?, big);
    assert!(spool.lease("q", 10).await?.is_empty());

    spool.ack("q", &[seqs[1]], vec![StateWrite::Put("k".into(), b"v".to_vec())]).await?;
    assert_eq!(std::fs::read_dir(dir.path().join("payloads"))?.count(), 0);
    spool.release("q", &[seqs[0], seqs[2]]);
    drop(leased);
    drop(spool);

    let spool = open(dir.path());
    assert_eq!(spool.read_state("k")?, Some(b"v".to_vec()));
    assert_eq!(spool.usage().used_bytes, 5 + 6);
    let again = spool.lease("q", 10).await?;
    assert_eq!(again.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![seqs[0], seqs[2]]);
    Ok(())
}

#[tokio::test]
async fn dedupe_within_and_across_calls() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let spool = open(dir.path());
    let none = || NewPayload::None;
    let first = spool.enqueue("q", vec![item(5, None, none()), item(5, None, none())], true).await?;
    assert!(matches!(first[..], [Enqueued::Added(_), Enqueued::Duplicate]));
    let other_queue = spool.enqueue("r", vec![item(5, None, none())], true).await?;
    assert_eq!(other_queue, vec![Enqueued::Duplicate]);
    let no_dedupe = spool.enqueue("r", vec![item(5, None, none())], false).await?;
    assert!(matches!(no_dedupe[..], [Enqueued::Added(_)]));
    assert_eq!(spool.usage().used_bytes, 6);
    assert_eq!(spool.prune_seen(0).await?, 0);
    assert_eq!(spool.prune_seen(u64::MAX).await?, 1);
    let after_prune = spool.enqueue("q", vec![item(5, None, none())], true).await?;
    assert!(matches!(after_prune[..], [Enqueued::Added(_)]));
    Ok(())
}

#[tokio::test]
async fn staging_files_and_their_quota() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let mut options = SpoolOptions::new(dir.path());
    options.quota_bytes = 1000;
    let spool = SledSpool::open(options)?;
    let mut file = spool.stage().await?;
    file.write_all(&[1; 600]).await?;
    assert_eq!(spool.usage().used_bytes, 600);
    assert!(matches!(
        file.write_all(&[1; 401]).await,
        Err(SpoolError::InsufficientStorage { needed: 401, available: 400 })
    ));
    file.write_all(&[2; 100]).await?;
    assert_eq!(file.written(), 700);
    drop(file);
    assert_eq!(spool.usage().used_bytes, 0);
    assert_eq!(std::fs::read_dir(dir.path().join("staging"))?.count(), 0);

    let mut file = spool.stage().await?;
    file.write_all(b"streamed").await?;
    let staged = file.finish().await?;
    assert_eq!(staged.size(), 8);
    let out = spool.enqueue("q", vec![item(1, None, NewPayload::Staged(staged))], false).await?;
    let leased = spool.lease("q", 1).await?;
    assert_eq!(leased[0].seq, added(&out[0]));
    assert_eq!(leased[0].payload.read_all().await?, b"streamed");
    assert_eq!(spool.usage().used_bytes, 11);
    assert_eq!(std::fs::read_dir(dir.path().join("staging"))?.count(), 0);

    let mut unused = spool.stage().await?;
    unused.write_all(b"x").await?;
    drop(unused.finish().await?);
    assert_eq!(spool.usage().used_bytes, 11);
    assert_eq!(std::fs::read_dir(dir.path().join("staging"))?.count(), 0);
    Ok(())
}

#[tokio::test]
async fn state_and_watch() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let spool = open(dir.path());
    spool
        .write_state(vec![
            StateWrite::Put("a/1".into(), b"1".to_vec()),
            StateWrite::Put("a/2".into(), b"2".to_vec()),
            StateWrite::Put("b/1".into(), b"3".to_vec()),
        ])
        .await?;
    spool.write_state(vec![StateWrite::Delete("a/1".into())]).await?;
    assert_eq!(spool.scan_state("a/")?, vec![("a/2".to_string(), b"2".to_vec())]);
    assert_eq!(spool.read_state("a/1")?, None);
    let many: Vec<StateWrite> = (10..20).map(|i| StateWrite::Put(format!("c/{i}"), vec![i])).collect();
    spool.write_state(many).await?;
    let last: Vec<String> = spool.last_state("c/", 3)?.into_iter().map(|(k, _)| k).collect();
    assert_eq!(last, ["c/17", "c/18", "c/19"]);
    assert_eq!(spool.last_state("a/", 5)?.len(), 1);

    let mut watch = spool.subscribe("q");
    let before = *watch.borrow_and_update();
    spool.enqueue("q", vec![item(1, None, NewPayload::None)], false).await?;
    assert!(watch.has_changed().unwrap_or(false));
    let seq = spool.lease("q", 1).await?[0].seq;
    assert_ne!(*watch.borrow_and_update(), before);
    spool.release("q", &[seq]);
    assert!(watch.has_changed().unwrap_or(false));
    assert_eq!(spool.queue_stats("nope"), Default::default());
    Ok(())
}
