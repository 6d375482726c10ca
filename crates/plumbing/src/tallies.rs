//! [`Tallies`]: event counts and byte sums per label set since the node started,
//! the counters behind `/metrics` and `/api/v1/stats` of both roles.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value, json};

use crate::metrics::{Labels, Metrics};

/// How many events of one label set, and their bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub bytes: u64,
}

/// Counts per label set (e.g. channel and protocol).
#[derive(Debug, Default)]
pub struct Tallies {
    map: Mutex<BTreeMap<Labels, Tally>>,
}

impl Tallies {
    /// Counts one event of `bytes` bytes under `labels`.
    pub fn add(&self, labels: Labels, bytes: u64) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let tally = map.entry(labels).or_default();
        tally.count += 1;
        tally.bytes += bytes;
    }

    /// Every label set with its tally, in label order.
    pub fn snapshot(&self) -> Vec<(Labels, Tally)> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(l, t)| (l.clone(), *t)).collect()
    }

    /// Writes the counts as the counter family `name`.
    pub fn write_counts(&self, metrics: &mut Metrics, name: &str, help: &str) {
        metrics.counter(name, help, self.snapshot().into_iter().map(|(labels, t)| (labels, t.count)));
    }

    /// Writes the byte sums as the counter family `name`.
    pub fn write_bytes(&self, metrics: &mut Metrics, name: &str, help: &str) {
        metrics.counter(name, help, self.snapshot().into_iter().map(|(labels, t)| (labels, t.bytes)));
    }

    /// `[{label: value, …, "count": n, "bytes": b}, …]`.
    pub fn json(&self) -> Value {
        let rows = self.snapshot().into_iter().map(|(labels, tally)| {
            let mut row: Map<String, Value> = labels.into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
            row.insert("count".into(), json!(tally.count));
            row.insert("bytes".into(), json!(tally.bytes));
            Value::Object(row)
        });
        Value::Array(rows.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(channel: &str) -> Labels {
        vec![("channel", channel.to_owned())]
    }

    #[test]
    fn events_add_up_per_label_set() {
        let tallies = Tallies::default();
        tallies.add(labels("b"), 5);
        tallies.add(labels("a"), 1);
        tallies.add(labels("b"), 7);
        assert_eq!(
            tallies.snapshot(),
            vec![(labels("a"), Tally { count: 1, bytes: 1 }), (labels("b"), Tally { count: 2, bytes: 12 }),]
        );
        assert_eq!(tallies.json()[1], json!({"channel": "b", "count": 2, "bytes": 12}));
        let mut metrics = Metrics::default();
        tallies.write_bytes(&mut metrics, "x_bytes_total", "Bytes.");
        assert!(metrics.render().contains("x_bytes_total{channel=\"b\"} 12\n"));
    }
}
