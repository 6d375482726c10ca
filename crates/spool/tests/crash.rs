//! Crash tests with a real, SIGKILLed process. The test binary re-executes itself
//! running only the ignored `crash_child` test, which works on the spool given in
//! `SPOOL_CRASH_DIR` and prints a line for every call that has returned. The
//! parent kills it mid-stream, reopens the spool and checks that everything the
//! child was told is durable really is.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use spool::{Enqueued, NewItem, NewPayload, SledSpool, Spool, SpoolError, SpoolOptions, StoredItem, StoredPayload};

const DIR_ENV: &str = "SPOOL_CRASH_DIR";
const MODE_ENV: &str = "SPOOL_CRASH_MODE";
const QUEUE: &str = "crash";

/// Deterministic header and payload per id; every fourth id gets a file payload.
fn header_for(id: u128) -> Vec<u8> {
    format!("header-{id}").into_bytes()
}

fn payload_for(id: u128) -> Vec<u8> {
    let size = if id.is_multiple_of(4) { 70_000 + (id % 997) as usize } else { (id % 700) as usize };
    (0..size).map(|n| (id as usize).wrapping_mul(31).wrapping_add(n) as u8).collect()
}

fn new_item(id: u128) -> NewItem {
    NewItem {
        id,
        channel: Some(format!("ch{}", id % 3)),
        header: header_for(id),
        payload: NewPayload::Bytes(payload_for(id)),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    // The parent may already have stopped reading; nothing to do about it.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

// ---- the child ---------------------------------------------------------------

#[test]
#[ignore = "helper: only run as a child process by the crash tests"]
fn crash_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let spool = SledSpool::open(SpoolOptions::new(dir)).expect("child opens spool");
    let mode = std::env::var(MODE_ENV).unwrap_or_default();
    runtime().block_on(async move {
        let tasks: Vec<_> = (0..8u128)
            .map(|task| {
                let spool = Arc::clone(&spool);
                let mode = mode.clone();
                tokio::spawn(async move {
                    if mode == "ack" { ack_loop(&spool).await } else { enqueue_loop(&spool, task).await }
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    });
}

/// Enqueues until killed (or a generous limit), sometimes through a staging file.
async fn enqueue_loop(spool: &SledSpool, task: u128) {
    let base = (std::process::id() as u128) << 64 | task << 32;
    for n in 0..20_000u128 {
        let id = base | n;
        let mut item = new_item(id);
        if n % 5 == 1 {
            let mut file = spool.stage().await.expect("stage");
            file.write_all(&payload_for(id)).await.expect("write staging file");
            item.payload = NewPayload::Staged(file.finish().await.expect("finish"));
        }
        let out = spool.enqueue(QUEUE, vec![item], true).await.expect("enqueue");
        assert!(matches!(out[..], [Enqueued::Added(_)]));
        say(format!("ADDED {id}"));
    }
}

async fn ack_loop(spool: &SledSpool) {
    loop {
        let items = spool.lease(QUEUE, 3).await.expect("lease");
        if items.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            continue;
        }
        let seqs: Vec<u64> = items.iter().map(|i| i.seq).collect();
        spool.ack(QUEUE, &seqs, Vec::new()).await.expect("ack");
        for item in items {
            say(format!("ACKED {}", item.id));
        }
    }
}

// ---- the parent --------------------------------------------------------------

/// Kills the child when dropped, so a failing test leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the child in `mode` until it printed `count` lines starting with
/// `prefix`, SIGKILLs it and returns the ids from those lines.
fn run_child_until(dir: &Path, mode: &str, prefix: &str, count: usize) -> Vec<u128> {
    let exe = std::env::current_exe().expect("own test binary");
    let child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--ignored", "--test-threads=1"])
        .env(DIR_ENV, dir)
        .env(MODE_ENV, mode)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mut child = Killed(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut ids = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read child output");
        if let Some(id) = line.strip_prefix(prefix) {
            ids.push(id.trim().parse().expect("id"));
            if ids.len() == count {
                break;
            }
        }
    }
    assert_eq!(ids.len(), count, "child stopped early");
    drop(child); // SIGKILL, mid-stream
    ids
}

/// Opens the spool and leases everything in it.
fn reopen_and_drain(dir: &Path) -> Vec<StoredItem> {
    let spool = SledSpool::open(SpoolOptions::new(dir)).expect("reopen after crash");
    runtime().block_on(async { spool.lease(QUEUE, usize::MAX).await.expect("lease all") })
}

/// Every item is intact, no id twice, staging is empty, no orphan files.
fn check_consistent(dir: &Path, items: &[StoredItem]) -> HashMap<u128, usize> {
    let mut counts = HashMap::new();
    let mut files = HashSet::new();
    for item in items {
        *counts.entry(item.id).or_insert(0) += 1;
        assert_eq!(item.header, header_for(item.id));
        let bytes = runtime().block_on(item.payload.read_all()).expect("payload readable");
        assert!(bytes == payload_for(item.id), "payload of {} differs", item.id);
        if let StoredPayload::File { path, .. } = &item.payload {
            files.insert(path.clone());
        }
    }
    assert!(counts.values().all(|n| *n == 1), "an id is stored twice");
    assert_eq!(std::fs::read_dir(dir.join("staging")).expect("staging").count(), 0);
    let on_disk: HashSet<_> =
        std::fs::read_dir(dir.join("payloads")).expect("payloads").map(|e| e.expect("entry").path()).collect();
    assert_eq!(on_disk, files, "orphan or missing payload files");
    counts
}

#[test]
fn enqueued_items_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut printed = Vec::new();
    // Two crashes in a row: recovery must also cope with a recovered spool.
    for _ in 0..2 {
        printed.extend(run_child_until(dir.path(), "enqueue", "ADDED ", 200));
        let items = reopen_and_drain(dir.path());
        let counts = check_consistent(dir.path(), &items);
        for id in &printed {
            assert_eq!(counts.get(id), Some(&1), "acknowledged item {id} lost");
        }
    }
}

#[test]
fn acks_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all: HashSet<u128> = (1..=400).collect();
    {
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).expect("open");
        runtime().block_on(async {
            let mut ids: Vec<u128> = all.iter().copied().collect();
            ids.sort();
            for chunk in ids.chunks(50) {
                let items = chunk.iter().map(|id| new_item(*id)).collect();
                spool.enqueue(QUEUE, items, false).await.expect("prefill");
            }
        });
    }
    let acked: HashSet<u128> = run_child_until(dir.path(), "ack", "ACKED ", 150).into_iter().collect();
    assert_eq!(acked.len(), 150);
    let items = reopen_and_drain(dir.path());
    let counts = check_consistent(dir.path(), &items);
    for id in counts.keys() {
        assert!(all.contains(id), "unknown id {id}");
        assert!(!acked.contains(id), "acked item {id} came back");
    }
    assert!(counts.len() <= 250);
}

#[test]
fn quota_refusal_harms_nothing() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let mut options = SpoolOptions::new(dir.path());
    options.quota_bytes = 400_000;
    let spool = SledSpool::open(options.clone())?;
    let rt = runtime();
    let mut stored = Vec::new();
    let refusal = rt.block_on(async {
        for id in 0u128.. {
            let batch = vec![new_item(id * 4), new_item(id * 4 + 1)];
            match spool.enqueue(QUEUE, batch, true).await {
                Ok(_) => stored.extend([id * 4, id * 4 + 1]),
                Err(e) => return e,
            }
        }
        unreachable!("the quota ends the loop")
    });
    assert!(matches!(refusal, SpoolError::InsufficientStorage { .. }), "{refusal:?}");
    let usage = spool.usage();
    let stats = spool.queue_stats(QUEUE);
    assert_eq!(stats.depth, stored.len() as u64);
    let files_before = std::fs::read_dir(dir.path().join("payloads"))?.count();
    let small = rt.block_on(spool.enqueue(QUEUE, vec![new_item(1_000_001)], true))?;
    assert!(matches!(small[..], [Enqueued::Added(_)]), "a small item still fits");
    let after_small = spool.usage();
    let refused_again = rt.block_on(spool.enqueue(QUEUE, vec![new_item(4_000_000)], true));
    assert!(matches!(refused_again, Err(SpoolError::InsufficientStorage { .. })));
    assert_eq!(spool.usage(), after_small);
    assert_eq!(std::fs::read_dir(dir.path().join("payloads"))?.count(), files_before);
    assert!(usage.used_bytes <= usage.quota_bytes);
    drop(spool);
    let items = reopen_and_drain(dir.path());
    let counts = check_consistent(dir.path(), &items);
    stored.push(1_000_001);
    let mut ids: Vec<u128> = counts.into_keys().collect();
    ids.sort();
    assert_eq!(ids, stored);
    Ok(())
}

/// What a crash can leave behind, planted by hand: a staging file, an orphan
/// payload file, a record whose payload file never became durable.
#[test]
fn recovery_cleans_up_leftovers() -> Result<(), SpoolError> {
    let dir = tempfile::tempdir()?;
    let rt = runtime();
    let (kept, lost) = {
        let spool = SledSpool::open(SpoolOptions::new(dir.path()))?;
        let out = rt.block_on(spool.enqueue(QUEUE, vec![new_item(4), new_item(8), new_item(5)], false))?;
        let seqs: Vec<u64> = out
            .iter()
            .map(|o| match o {
                Enqueued::Added(seq) => *seq,
                Enqueued::Duplicate => unreachable!("no dedupe asked"),
            })
            .collect();
        (seqs[0], seqs[1])
    };
    let payloads = dir.path().join("payloads");
    std::fs::remove_file(payloads.join(format!("{lost:016x}")))?;
    std::fs::write(payloads.join(format!("{:016x}", lost + 1000)), b"orphan")?;
    std::fs::write(payloads.join("not-a-seq"), b"junk")?;
    std::fs::write(dir.path().join("staging").join("upload.part"), b"partial")?;

    let spool = SledSpool::open(SpoolOptions::new(dir.path()))?;
    let items = rt.block_on(spool.lease(QUEUE, 10))?;
    assert_eq!(items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![4, 5]);
    assert_eq!(items[0].seq, kept);
    let expected_use: usize = [4u128, 5].iter().map(|id| header_for(*id).len() + payload_for(*id).len()).sum();
    assert_eq!(spool.usage().used_bytes, expected_use as u64);
    drop(spool);
    let items = reopen_and_drain(dir.path());
    check_consistent(dir.path(), &items);
    Ok(())
}
