//! End to end through a DMZ node and an inner node in pushback mode, both in this
//! process: payloads are injected at the DMZ's admin API and their arrival is read
//! from the inner's delivery journal (`delivered_at_us`, same machine clock).
//!
//! Sections: latency at light load, throughput under 32 concurrent senders, and
//! this process's memory (VmRSS) against queue length and payload size.

mod cluster;
mod memory;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use cluster::{Cluster, Injector};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const KIB: usize = 1024;
const LIGHT_COUNT: usize = 300;
const LIGHT_SPACING: Duration = Duration::from_millis(20);
const LOAD_COUNT: usize = 5_000;
const SENDERS: usize = 32;

/// Latency percentiles of one case, in ms.
#[derive(Debug, Clone)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The throughput case's results.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// POSTs answered 201 per second, over the injection phase alone.
    pub injected_per_sec: f64,
    /// From the first POST to the last `delivered_at_us`.
    pub delivered_per_sec: f64,
    /// Highest depths seen of the DMZ's `to-inner` and the inner's `inbound`.
    pub dmz_peak: u64,
    pub inner_peak: u64,
    pub latency: Latency,
    /// Reference: the inner's atomic file write alone, sequential, files/s.
    pub file_writes_per_sec: f64,
}

/// Runs every end-to-end case; returns the markdown tables.
pub async fn run() -> Result<String, BoxError> {
    // First, before the other cases leave freed heap behind for it to reuse.
    let queue_rows = memory::queue_length().await?;
    let cluster = Cluster::start().await?;
    let light = light_load(&cluster).await?;
    let loaded = throughput(&cluster).await?;
    let payload_rows = memory::payload_size(&cluster).await?;
    cluster.shutdown().await;
    let mut out = String::from("### Latency at light load (1 KiB, one every 20 ms)\n\n");
    out.push_str(&latency_table(&light, LIGHT_COUNT));
    out.push_str(&format!("\n### Throughput ({LOAD_COUNT} × 1 KiB, {SENDERS} concurrent senders)\n\n"));
    out.push_str(&throughput_table(&loaded));
    out.push_str("\n### Memory (VmRSS of this process, both nodes included)\n\n");
    out.push_str(&memory::table(&queue_rows, &payload_rows));
    Ok(out)
}

/// One 1 KiB payload every 20 ms, each POST awaited before the next.
async fn light_load(cluster: &Cluster) -> Result<Latency, BoxError> {
    let injector = cluster.injector();
    let payload = vec![0x6c; KIB];
    let mut sent = HashMap::with_capacity(LIGHT_COUNT);
    let mut tick = tokio::time::interval(LIGHT_SPACING);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for i in 0..LIGHT_COUNT {
        tick.tick().await;
        let path = format!("light/{i:05}.bin");
        sent.insert(path.clone(), now_micros());
        injector.inject(&path, payload.clone()).await?;
    }
    let journal = cluster.wait_delivered(&sent.keys().cloned().collect::<Vec<_>>()).await?;
    Ok(percentiles(latencies_us(&sent, &journal)))
}

/// 5,000 payloads from 32 senders; deliveries/s from the first POST to the last
/// `delivered_at_us`, and the latencies under that load.
async fn throughput(cluster: &Cluster) -> Result<Throughput, BoxError> {
    let file_writes_per_sec = tokio::task::spawn_blocking(file_write_rate).await??;
    let sent_all = CancellationToken::new();
    let send = async {
        let sent = send_concurrently(cluster.injector(), "load", LOAD_COUNT, KIB).await;
        sent_all.cancel();
        sent
    };
    let (sent, depths) = tokio::join!(send, cluster.peak_depths(&sent_all));
    let ((sent, injecting), (dmz_peak, inner_peak)) = (sent?, depths?);
    let journal = cluster.wait_journal(&sent.keys().cloned().collect::<Vec<_>>()).await?;
    let first = sent.values().copied().min().unwrap_or(0);
    let last = sent.keys().filter_map(|p| journal.get(p)).copied().max().unwrap_or(first);
    Ok(Throughput {
        injected_per_sec: LOAD_COUNT as f64 / injecting.as_secs_f64().max(1e-9),
        delivered_per_sec: LOAD_COUNT as f64 / (last.saturating_sub(first).max(1) as f64 / 1e6),
        dmz_peak,
        inner_peak,
        latency: percentiles(latencies_us(&sent, &journal)),
        file_writes_per_sec,
    })
}

/// How many 1 KiB files per second `inner::deliver::write::write_atomically` (temp
/// file, fsync, rename, fsync of the directory) puts in place one after another on
/// the scratch file system: the ceiling of a deliverer that writes files serially.
fn file_write_rate() -> Result<f64, BoxError> {
    const FILES: usize = 500;
    let dir = crate::enqueue::scratch_dir()?;
    let payload = spool::StoredPayload::Inline(vec![0x66; KIB]);
    let start = std::time::Instant::now();
    for i in 0..FILES {
        let target = dir.path().join(format!("ref/{i:06}.bin"));
        inner::deliver::write::write_atomically(&target, &payload, &i.to_string())?;
    }
    Ok(FILES as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

/// Injects `count` payloads of `size` bytes under `prefix/` from [`SENDERS`]
/// tasks; returns path → Unix µs just before its POST, and the wall time taken.
pub async fn send_concurrently(
    injector: Injector,
    prefix: &str,
    count: usize,
    size: usize,
) -> Result<(HashMap<String, u64>, Duration), BoxError> {
    let next = Arc::new(AtomicUsize::new(0));
    let payload: Arc<[u8]> = vec![0x5a; size].into();
    let start = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SENDERS.min(count) {
        let (injector, next, payload) = (injector.clone(), next.clone(), payload.clone());
        tasks.spawn(sender(injector, next, count, format!("{prefix}/"), payload));
    }
    let mut all = HashMap::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined??);
    }
    Ok((all, start.elapsed()))
}

/// One sender: takes the next index until `count`; returns (path, Unix µs before
/// its POST) for each payload it sent.
async fn sender(
    injector: Injector,
    next: Arc<AtomicUsize>,
    count: usize,
    prefix: String,
    payload: Arc<[u8]>,
) -> Result<Vec<(String, u64)>, BoxError> {
    let mut sent = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            return Ok(sent);
        }
        let path = format!("{prefix}{i:06}.bin");
        sent.push((path.clone(), now_micros()));
        injector.inject(&path, payload.to_vec()).await?;
    }
}

/// Delivered − sent, in µs, for every sent path found in the journal.
fn latencies_us(sent: &HashMap<String, u64>, journal: &HashMap<String, u64>) -> Vec<u64> {
    sent.iter().filter_map(|(path, at)| Some(journal.get(path)?.saturating_sub(*at))).collect()
}

/// Nearest-rank percentiles of µs samples, in ms.
fn percentiles(mut samples: Vec<u64>) -> Latency {
    samples.sort_unstable();
    let rank = |p: f64| {
        let n = samples.len();
        let i = ((p * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        samples.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    Latency { p50: rank(0.50), p99: rank(0.99), max: rank(1.0) }
}

fn latency_table(l: &Latency, n: usize) -> String {
    let verdict = |value: f64, target: f64| if value < target { "met" } else { "**missed**" };
    let mut out = format!("| metric ({n} payloads) | measured (ms) | target | |\n|---|---:|---:|---|\n");
    out.push_str(&format!("| p50 | {:.1} | < 20 ms | {} |\n", l.p50, verdict(l.p50, 20.0)));
    out.push_str(&format!("| p99 | {:.1} | < 100 ms | {} |\n", l.p99, verdict(l.p99, 100.0)));
    out.push_str(&format!("| max | {:.1} | | |\n", l.max));
    out
}

fn throughput_table(t: &Throughput) -> String {
    let l = &t.latency;
    let mut out = String::from("| metric | value |\n|---|---:|\n");
    out.push_str(&format!("| deliveries/s end to end | {:.0} |\n", t.delivered_per_sec));
    out.push_str(&format!("| injections/s (201 answered) | {:.0} |\n", t.injected_per_sec));
    let reference = "reference: atomic 1 KiB file writes/s, one after another (the inner's `write_atomically`)";
    out.push_str(&format!("| {reference} | {:.0} |\n", t.file_writes_per_sec));
    out.push_str(&format!("| peak depth, DMZ `to-inner` | {} |\n", t.dmz_peak));
    out.push_str(&format!("| peak depth, inner `inbound` | {} |\n", t.inner_peak));
    out.push_str(&format!("| latency p50 (ms) | {:.1} |\n", l.p50));
    out.push_str(&format!("| latency p99 (ms) | {:.1} |\n", l.p99));
    out.push_str(&format!("| latency max (ms) | {:.1} |\n", l.max));
    let (queue, stage) = if t.inner_peak >= t.dmz_peak {
        (
            "the inner's `inbound`",
            "the inner's deliverer (bound by file fsyncs: 8 files written at a time, renamed in order)",
        )
    } else {
        ("the DMZ's `to-inner`", "the transfer from the DMZ to the inner")
    };
    out.push_str(&format!(
        "\nThe backlog built up in {queue}: {stage} is the slowest stage; latency under this load is mostly time queued there.\n"
    ));
    out
}

/// Microseconds since the Unix epoch (the clock the journal uses).
fn now_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}
