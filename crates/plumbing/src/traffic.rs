//! [`TrafficTable`]: the byte traffic of one kind of connection (partner or peer),
//! one [`Traffic`] per label value (a protocol, or the MessageService and the
//! internal SFTP), shown as Prometheus counters and rate gauges and as JSON.
//! [`sample_every_second`] feeds the rates.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use meter::Traffic;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// How often rates are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Traffic per label value, e.g. per protocol.
#[derive(Debug)]
pub struct TrafficTable {
    /// The metric prefix, e.g. `portcullis_partner`.
    prefix: &'static str,
    /// The label's name, e.g. `protocol`.
    label: &'static str,
    rows: Mutex<BTreeMap<String, Arc<Traffic>>>,
}

impl TrafficTable {
    pub fn new(prefix: &'static str, label: &'static str) -> Self {
        TrafficTable { prefix, label, rows: Mutex::default() }
    }

    /// Partner sockets by protocol (DMZ).
    pub fn partner() -> Self {
        TrafficTable::new("portcullis_partner", "protocol")
    }

    /// The peer node's connections by channel (`message_service`, `internal_sftp`), both roles.
    pub fn peer() -> Self {
        TrafficTable::new("portcullis_peer", "channel")
    }

    /// The traffic of `value` (made on first use; kept for good).
    pub fn row(&self, value: &str) -> Arc<Traffic> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        rows.entry(value.to_owned()).or_default().clone()
    }

    /// The label values seen so far.
    pub fn labels(&self) -> Vec<String> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    fn snapshot(&self) -> Vec<(String, Arc<Traffic>)> {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        rows.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Records every row's counters for its rates.
    pub fn sample(&self) {
        self.snapshot().iter().for_each(|(_, traffic)| traffic.sample());
    }

    /// `<prefix>_bytes_total` and `<prefix>_bytes_per_second`, by label and direction.
    pub fn write(&self, metrics: &mut Metrics, what: &str) {
        let rows = self.snapshot();
        let labels =
            |value: &str, direction: &str| vec![(self.label, value.to_owned()), ("direction", direction.into())];
        let totals = rows
            .iter()
            .flat_map(|(value, t)| [(labels(value, "read"), t.read()), (labels(value, "written"), t.written())]);
        let help = format!("Bytes read from and written to {what}, by {} and direction.", self.label);
        metrics.counter(&format!("{}_bytes_total", self.prefix), &help, totals);
        let rates = rows.iter().flat_map(|(value, t)| {
            let rates = t.rates();
            [(labels(value, "read"), rates.read), (labels(value, "written"), rates.written)]
        });
        let help = format!("Bytes per second read from and written to {what} over the last 10 s, by {}.", self.label);
        metrics.gauge(&format!("{}_bytes_per_second", self.prefix), &help, rates);
    }

    /// `{value: {"bytes_read", "bytes_written", "read_per_second", "written_per_second"}}`.
    pub fn json(&self) -> Value {
        let rows = self.snapshot().into_iter().map(|(value, t)| {
            let rates = t.rates();
            let row = json!({
                "bytes_read": t.read(),
                "bytes_written": t.written(),
                "read_per_second": rates.read.round() as u64,
                "written_per_second": rates.written.round() as u64,
            });
            (value, row)
        });
        Value::Object(rows.collect::<Map<_, _>>())
    }
}

/// Samples `tables` once a second until `shutdown`.
pub async fn sample_every_second(tables: Vec<Arc<TrafficTable>>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => tables.iter().for_each(|t| t.sample()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_as_counters_gauges_and_json() {
        let table = TrafficTable::new("portcullis_peer", "channel");
        table.row("message_service").add_read(100);
        table.row("message_service").add_written(40);
        table.row("internal_sftp").add_written(7);
        table.sample();
        let mut metrics = Metrics::default();
        table.write(&mut metrics, "the peer node");
        let text = metrics.render();
        for line in [
            "portcullis_peer_bytes_total{channel=\"message_service\",direction=\"read\"} 100\n",
            "portcullis_peer_bytes_total{channel=\"message_service\",direction=\"written\"} 40\n",
            "portcullis_peer_bytes_total{channel=\"internal_sftp\",direction=\"written\"} 7\n",
            "portcullis_peer_bytes_per_second{channel=\"internal_sftp\",direction=\"read\"} 0\n",
            "# TYPE portcullis_peer_bytes_per_second gauge\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        let json = table.json();
        assert_eq!(json["message_service"]["bytes_read"], 100);
        assert_eq!(json["internal_sftp"]["bytes_written"], 7);
    }
}
