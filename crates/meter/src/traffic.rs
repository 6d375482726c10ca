//! [`Traffic`] counters, their [`Rates`], and the [`Meter`] that feeds several at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::RateWindow;

/// How far back a rate looks.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Bytes read and written, with recent samples for rates.
#[derive(Debug)]
pub struct Traffic {
    read: AtomicU64,
    written: AtomicU64,
    /// Samples of `read` and of `written`.
    windows: Mutex<[RateWindow; 2]>,
}

impl Default for Traffic {
    fn default() -> Self {
        let window = RateWindow::new(RATE_WINDOW);
        Traffic { read: AtomicU64::new(0), written: AtomicU64::new(0), windows: Mutex::new([window.clone(), window]) }
    }
}

/// Bytes per second over the last [`RATE_WINDOW`] (or since the first sample).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub read: f64,
    pub written: f64,
}

impl Traffic {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    pub fn add_read(&self, bytes: u64) {
        self.read.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn add_written(&self, bytes: u64) {
        self.written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records the counters now; keeps samples back to [`RATE_WINDOW`].
    pub fn sample(&self) {
        self.sample_at(Instant::now());
    }

    fn sample_at(&self, at: Instant) {
        let [read, written] = &mut *self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        read.record(at, self.read());
        written.record(at, self.written());
    }

    /// Bytes per second over the samples kept (0 before there are two).
    pub fn rates(&self) -> Rates {
        let [read, written] = &*self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        Rates { read: read.per_second().unwrap_or(0.0), written: written.per_second().unwrap_or(0.0) }
    }
}

/// The [`Traffic`]s a stream counts into.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<[Arc<Traffic>]>);

impl Meter {
    /// Counts into each of `traffic`.
    pub fn new(traffic: impl IntoIterator<Item = Arc<Traffic>>) -> Self {
        Meter(traffic.into_iter().collect())
    }

    /// A meter that counts nothing.
    pub fn none() -> Self {
        Meter::default()
    }

    pub fn add_read(&self, bytes: u64) {
        self.0.iter().for_each(|t| t.add_read(bytes));
    }

    pub fn add_written(&self, bytes: u64) {
        self.0.iter().for_each(|t| t.add_written(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_adds_to_every_traffic_it_holds() {
        let (own, total) = (Traffic::new(), Traffic::new());
        let meter = Meter::new([own.clone(), total.clone()]);
        meter.add_read(5);
        meter.clone().add_written(7);
        Meter::new([total.clone()]).add_read(1);
        assert_eq!((own.read(), own.written()), (5, 7));
        assert_eq!((total.read(), total.written()), (6, 7));
        Meter::none().add_read(3);
    }

    #[test]
    fn rates_are_bytes_per_second_over_the_window() {
        let traffic = Traffic::default();
        assert_eq!(traffic.rates(), Rates::default());
        let start = Instant::now();
        traffic.sample_at(start);
        assert_eq!(traffic.rates(), Rates::default());
        traffic.add_read(2_000);
        traffic.add_written(500);
        traffic.sample_at(start + Duration::from_secs(2));
        assert_eq!(traffic.rates(), Rates { read: 1_000.0, written: 250.0 });
    }

    #[test]
    fn old_samples_leave_the_window() {
        let traffic = Traffic::default();
        let start = Instant::now();
        traffic.sample_at(start);
        traffic.add_read(1_000_000);
        traffic.sample_at(start + Duration::from_secs(1));
        for second in 2..=30 {
            traffic.sample_at(start + Duration::from_secs(second));
        }
        // The burst in the first second is older than the window: idle now.
        assert_eq!(traffic.rates().read, 0.0);
        assert!(traffic.windows.lock().expect("samples")[0].len() <= 12);
    }
}
