//! The delivery journal: one record per finished delivery, written in the same
//! commit as the `inbound` ack, so a delivery is journalled exactly once. Keys:
//!
//! ```text
//! delivering/<id>  → target path (UTF-8)   the intent, written before the file
//! delivered/<id>   → DeliveryRecord (JSON) written with the ack; intent deleted
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Where the intent of an unfinished delivery is kept.
pub fn intent_key(id: &str) -> String {
    format!("delivering/{id}")
}

/// Prefix of the journal keys.
pub const RECORD_PREFIX: &str = "delivered/";

pub fn record_key(id: &str) -> String {
    format!("{RECORD_PREFIX}{id}")
}

/// What became of one delivery; listed by `GET /api/v1/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub channel: String,
    pub path: String,
    pub protocol: String,
    pub partner_login: Option<String>,
    pub partner_remote: Option<String>,
    pub size: u64,
    pub sha256: String,
    /// Unix ms when the DMZ committed it.
    pub received_at: u64,
    /// Unix µs when the file was in place (orders deliveries within a channel).
    pub delivered_at_us: u64,
    /// `delivered`, or `unroutable` (see `reason`).
    pub outcome: String,
    pub profile: Option<String>,
    /// Where the bytes were written.
    pub target: String,
    pub reason: Option<String>,
    /// SMTP deliveries: sender, recipients, Message-ID, HELO name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<envelope::MailMeta>,
}

/// Microseconds since the Unix epoch, strictly increasing within this process, so
/// that journal times order deliveries even when several finish within one µs.
pub fn now_micros() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(current) => last = current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_times_strictly_increase() {
        let times: Vec<u64> = (0..10_000).map(|_| now_micros()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
    }
}
