//! Per-channel retry: a channel whose delivery failed has its items held (still
//! leased, so the spool hands out nothing later of that channel) for a capped,
//! growing delay, then released for another try. Other channels keep flowing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use spool::{Seq, Spool};
use tokio_util::sync::CancellationToken;

use crate::INBOUND;

const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// The current retry delay of each failing channel.
#[derive(Debug, Default)]
pub struct ChannelRetries {
    delays: HashMap<String, Duration>,
}

impl ChannelRetries {
    /// The channel failed again: its next delay (doubling, capped).
    pub fn failed(&mut self, channel: &str) -> Duration {
        let delay = self.delays.get(channel).map_or(FIRST_RETRY, |d| (*d * 2).min(LAST_RETRY));
        self.delays.insert(channel.to_string(), delay);
        delay
    }

    /// The channel delivered: its next failure starts from the first delay.
    pub fn succeeded(&mut self, channel: &str) {
        self.delays.remove(channel);
    }
}

/// Releases `seqs` for redelivery after `delay` (or at shutdown, when leases
/// no longer matter).
pub fn release_later(spool: Arc<dyn Spool>, seqs: Vec<Seq>, delay: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(delay) => spool.release(INBOUND, &seqs),
            () = shutdown.cancelled() => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_channel_and_reset_on_success() {
        let mut retries = ChannelRetries::default();
        assert_eq!(retries.failed("a"), FIRST_RETRY);
        assert_eq!(retries.failed("a"), FIRST_RETRY * 2);
        assert_eq!(retries.failed("b"), FIRST_RETRY);
        for _ in 0..20 {
            retries.failed("a");
        }
        assert_eq!(retries.failed("a"), LAST_RETRY);
        retries.succeeded("a");
        assert_eq!(retries.failed("a"), FIRST_RETRY);
    }
}
