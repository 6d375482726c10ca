//! Durable enqueue rate of the sled spool at several concurrencies, next to a
//! baseline of one `sync_data` per appended item.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use spool::{NewItem, NewPayload, SledSpool, Spool, SpoolError, SpoolOptions};

const ITEM_BYTES: usize = 1024;
const MAX_ITEMS: u64 = 20_000;
const MAX_TIME: Duration = Duration::from_secs(5);
const CONCURRENCY: [usize; 3] = [1, 16, 256];

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub case: String,
    pub items_per_sec: f64,
    /// `items_per_sec` divided by the baseline's.
    pub ratio: f64,
}

/// Runs the baseline, then the spool at each concurrency.
pub async fn run() -> Result<Vec<Row>, SpoolError> {
    let (items, elapsed) =
        tokio::task::spawn_blocking(baseline).await.map_err(|e| SpoolError::Io(std::io::Error::other(e)))??;
    let base_rate = rate(items, elapsed);
    let mut rows = vec![row("baseline: append + sync_data per item".into(), base_rate, base_rate)];
    for concurrency in CONCURRENCY {
        let (items, elapsed) = spool_case(concurrency).await?;
        let case = format!("spool enqueue, concurrency {concurrency}");
        rows.push(row(case, rate(items, elapsed), base_rate));
    }
    Ok(rows)
}

/// The rows as a markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| case | items/s | ratio to baseline |\n|---|---:|---:|\n");
    for r in rows {
        out.push_str(&format!("| {} | {:.0} | {:.2} |\n", r.case, r.items_per_sec, r.ratio));
    }
    out
}

fn row(case: String, items_per_sec: f64, base: f64) -> Row {
    let ratio = if base > 0.0 { items_per_sec / base } else { 0.0 };
    Row { case, items_per_sec, ratio }
}

fn rate(items: u64, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}

pub(crate) fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let parent = std::env::var_os("PORTCULLIS_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    tempfile::Builder::new().prefix("portcullis-bench-").tempdir_in(parent)
}

/// Sequential appends of 1 KiB, each followed by `sync_data`.
fn baseline() -> Result<(u64, Duration), SpoolError> {
    let dir = scratch_dir()?;
    let mut file = std::fs::File::create(dir.path().join("baseline.log"))?;
    let item = vec![0x5a; ITEM_BYTES];
    let start = Instant::now();
    let mut items = 0;
    while items < MAX_ITEMS && start.elapsed() < MAX_TIME {
        file.write_all(&item)?;
        file.sync_data()?;
        items += 1;
    }
    Ok((items, start.elapsed()))
}

/// `concurrency` tasks enqueue one item per call until the item or time budget
/// is used up.
async fn spool_case(concurrency: usize) -> Result<(u64, Duration), SpoolError> {
    let dir = scratch_dir()?;
    let spool = SledSpool::open(SpoolOptions::new(dir.path()))?;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(Arc::clone(&spool), Arc::clone(&next), Arc::clone(&done), start)))
        .collect();
    for worker in workers {
        worker.await.map_err(|e| SpoolError::Io(std::io::Error::other(e)))??;
    }
    let elapsed = start.elapsed();
    Ok((done.load(Ordering::Relaxed), elapsed))
}

async fn worker(
    spool: Arc<SledSpool>,
    next: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    start: Instant,
) -> Result<(), SpoolError> {
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= MAX_ITEMS || start.elapsed() >= MAX_TIME {
            return Ok(());
        }
        let item = NewItem {
            id: u128::from(n) | 0xbe4c << 64,
            channel: Some(format!("partner-{}", n % 16)),
            header: Vec::new(),
            payload: NewPayload::Bytes(vec![0xa5; ITEM_BYTES]),
        };
        spool.enqueue("bench", vec![item], false).await?;
        done.fetch_add(1, Ordering::Relaxed);
    }
}
