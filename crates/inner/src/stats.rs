//! Counters of the inner's deliveries since it started: files put in place (or
//! set aside as unroutable) per channel, protocol and outcome, with their bytes,
//! failed writes per channel (retried later), and the bytes exchanged with the DMZ
//! (MessageService frames, internal SFTP socket) with rates. Shown on `/metrics`
//! and `/api/v1/stats`.

use std::collections::BTreeMap;
use std::sync::Arc;

use plumbing::metrics::Metrics;
use plumbing::tallies::Tallies;
use plumbing::traffic::TrafficTable;
use serde_json::{Value, json};

/// One channel's delivery counts since start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChannelCounts {
    pub delivered: u64,
    pub bytes: u64,
    pub failures: u64,
}

fn label(labels: &[(&'static str, String)], name: &str) -> String {
    labels.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone()).unwrap_or_default()
}

/// The delivery counters of one inner node.
#[derive(Debug)]
pub struct DeliveryStats {
    delivered: Tallies,
    failed: Tallies,
    peer: Arc<TrafficTable>,
}

impl Default for DeliveryStats {
    fn default() -> Self {
        DeliveryStats {
            delivered: Tallies::default(),
            failed: Tallies::default(),
            peer: Arc::new(TrafficTable::peer()),
        }
    }
}

impl DeliveryStats {
    /// Bytes exchanged with the DMZ, by channel (`message_service`, `internal_sftp`).
    pub fn peer_traffic(&self) -> &Arc<TrafficTable> {
        &self.peer
    }

    /// A delivery is in place (`outcome` "delivered") or set aside ("unroutable").
    pub fn delivered(&self, channel: &str, protocol: &str, outcome: &str, bytes: u64) {
        let labels =
            vec![("channel", channel.to_owned()), ("protocol", protocol.to_owned()), ("outcome", outcome.to_owned())];
        self.delivered.add(labels, bytes);
    }

    /// A delivery could not be written this time; it is retried.
    pub fn failed(&self, channel: &str) {
        self.failed.add(vec![("channel", channel.to_owned())], 0);
    }

    /// Per channel: files delivered, their bytes, and failed writes.
    pub fn per_channel(&self) -> BTreeMap<String, ChannelCounts> {
        let mut channels: BTreeMap<String, ChannelCounts> = BTreeMap::new();
        for (labels, tally) in self.delivered.snapshot() {
            let counts = channels.entry(label(&labels, "channel")).or_default();
            counts.delivered += tally.count;
            counts.bytes += tally.bytes;
        }
        for (labels, tally) in self.failed.snapshot() {
            channels.entry(label(&labels, "channel")).or_default().failures += tally.count;
        }
        channels
    }

    /// Writes the counters as Prometheus families.
    pub fn write(&self, metrics: &mut Metrics) {
        let help = "Deliveries put in place (or set aside as unroutable), by channel, protocol and outcome.";
        self.delivered.write_counts(metrics, "portcullis_inner_deliveries_total", help);
        let help = "Payload bytes of deliveries put in place, by channel, protocol and outcome.";
        self.delivered.write_bytes(metrics, "portcullis_inner_delivery_bytes_total", help);
        let help = "Delivery writes that failed and wait for a retry, by channel.";
        self.failed.write_counts(metrics, "portcullis_inner_delivery_failures_total", help);
        self.peer.write(metrics, "the DMZ (MessageService: frame bodies; internal SFTP: socket)");
    }

    /// The counters as JSON.
    pub fn json(&self) -> Value {
        json!({"deliveries": self.delivered.json(), "failures": self.failed.json(), "peer_traffic": self.peer.json()})
    }
}
