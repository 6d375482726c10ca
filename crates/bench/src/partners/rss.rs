//! Resident memory of another process (VmRSS from /proc/PID/status), read once or
//! sampled in a background thread for its peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::peers::BoxError;

const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// VmRSS of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS line")?;
    Ok(line.split_whitespace().nth(1).ok_or("VmRSS without a value")?.parse()?)
}

/// Samples VmRSS of one process until finished; keeps the highest value.
pub struct PeakSampler {
    pid: u32,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl PeakSampler {
    pub fn start(pid: u32) -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid).unwrap_or(0));
                std::thread::sleep(SAMPLE_EVERY);
            }
            peak
        });
        PeakSampler { pid, stop, thread }
    }

    /// The highest VmRSS seen, in KiB.
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0).max(rss_kib(self.pid).unwrap_or(0))
    }
}
