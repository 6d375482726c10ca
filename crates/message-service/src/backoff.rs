//! Retry delays: capped exponential growth with full jitter.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Backoff;

/// The retry state of one loop: how many failures in a row so far.
#[derive(Debug)]
pub(crate) struct Retry {
    config: Backoff,
    failures: u32,
}

impl Retry {
    pub(crate) fn new(config: Backoff) -> Self {
        Retry { config, failures: 0 }
    }

    /// After a success: the next failure waits the initial delay again.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The largest delay the next failure may wait: `initial × 2^failures`,
    /// capped at `max`.
    pub(crate) fn ceiling(&self) -> Duration {
        let factor = 1u32 << self.failures.min(20);
        self.config.initial.saturating_mul(factor).min(self.config.max)
    }

    /// The delay for the next retry (uniform in `0..=ceiling`), counting a failure.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        ceiling.mul_f64(rand::random::<f64>())
    }

    /// Waits the next delay. Returns false if `shutdown` was cancelled first.
    pub(crate) async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn config() -> Backoff {
        Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(5) }
    }

    #[test]
    fn ceilings_double_then_cap() {
        let mut retry = Retry::new(config());
        let ceilings: Vec<u64> = (0..10)
            .map(|_| {
                let c = retry.ceiling().as_millis() as u64;
                retry.next_delay();
                c
            })
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
        for _ in 0..100 {
            retry.next_delay();
        }
        assert_eq!(retry.ceiling(), Duration::from_secs(5), "no overflow after many failures");
        retry.reset();
        assert_eq!(retry.ceiling(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_grow_and_stay_under_the_cap() {
        let shutdown = CancellationToken::new();
        let mut first_waits = Duration::ZERO;
        let mut late_waits = Duration::ZERO;
        for _ in 0..50 {
            let mut retry = Retry::new(config());
            for attempt in 0..12 {
                let ceiling = retry.ceiling();
                let started = Instant::now();
                assert!(retry.wait(&shutdown).await);
                let waited = started.elapsed();
                assert!(waited <= ceiling + Duration::from_millis(1), "{waited:?} > {ceiling:?}");
                match attempt {
                    0 => first_waits += waited,
                    11 => late_waits += waited,
                    _ => {}
                }
            }
        }
        // Means over 50 runs: about 50 ms for the first wait, about 2.5 s when capped.
        assert!(first_waits / 50 < Duration::from_millis(100), "{first_waits:?}");
        assert!(late_waits / 50 > Duration::from_millis(1000), "{late_waits:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_interrupts_a_wait() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut retry = Retry::new(Backoff { initial: Duration::from_secs(60), max: Duration::from_secs(60) });
        assert!(!retry.wait(&shutdown).await);
    }
}
