//! Counters of partner traffic on the DMZ since it started: connections admitted
//! or refused by the address rules, logins accepted or refused, and deliveries
//! (count and bytes) per channel and protocol. Shown as Prometheus families on
//! `/metrics` and as JSON on `/api/v1/stats`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use envelope::Protocol;
use plumbing::metrics::Metrics;
use plumbing::tallies::Tallies;
use serde_json::{Value, json};

/// The partner counters of one DMZ node; shared by its sessions and admin routes.
#[derive(Debug, Default)]
pub struct PartnerStats {
    connections: Tallies,
    /// Served connections that ended, by protocol.
    closed: Tallies,
    /// Served connections open now, by protocol.
    active: Mutex<BTreeMap<String, u64>>,
    logins: Tallies,
    deliveries: Tallies,
}

impl PartnerStats {
    /// A connection was accepted and then `outcome`: "admitted", "refused" by the
    /// address rules, or turned away while "paused".
    pub fn connection(&self, protocol: Protocol, outcome: &str) {
        self.connections.add(vec![("protocol", protocol.to_string()), ("outcome", outcome.into())], 0);
    }

    /// A served connection opened: counted active until the returned guard drops.
    pub fn opened(self: &Arc<Self>, protocol: Protocol) -> ActiveConnection {
        *self.active.lock().unwrap_or_else(PoisonError::into_inner).entry(protocol.to_string()).or_default() += 1;
        ActiveConnection { stats: Arc::clone(self), protocol }
    }

    /// Served connections open now, over all protocols.
    pub fn active_total(&self) -> u64 {
        self.active.lock().unwrap_or_else(PoisonError::into_inner).values().sum()
    }

    fn closed(&self, protocol: Protocol) {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = active.get_mut(&protocol.to_string()) {
            *open = open.saturating_sub(1);
        }
        drop(active);
        self.closed.add(vec![("protocol", protocol.to_string())], 0);
    }

    /// A partner tried to log in.
    pub fn login(&self, protocol: Protocol, accepted: bool) {
        let outcome = if accepted { "accepted" } else { "refused" };
        self.logins.add(vec![("protocol", protocol.to_string()), ("outcome", outcome.into())], 0);
    }

    /// A delivery was committed to the spool.
    pub fn delivery(&self, channel: &str, protocol: Protocol, bytes: u64) {
        self.deliveries.add(vec![("channel", channel.to_owned()), ("protocol", protocol.to_string())], bytes);
    }

    /// Writes the counters as Prometheus families.
    pub fn write(&self, metrics: &mut Metrics) {
        self.connections.write_counts(
            metrics,
            "portcullis_partner_connections_total",
            "Partner connections accepted, by protocol and outcome (admitted, refused by address rules, paused).",
        );
        self.closed.write_counts(
            metrics,
            "portcullis_partner_connections_closed_total",
            "Served partner connections that ended, by protocol.",
        );
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner).clone();
        metrics.gauge(
            "portcullis_partner_connections_active",
            "Served partner connections open now, by protocol.",
            active.into_iter().map(|(protocol, n)| (vec![("protocol", protocol)], n as f64)),
        );
        self.logins.write_counts(
            metrics,
            "portcullis_partner_logins_total",
            "Partner logins, by protocol and outcome.",
        );
        self.deliveries.write_counts(
            metrics,
            "portcullis_deliveries_total",
            "Partner deliveries committed to the spool, by channel and protocol.",
        );
        self.deliveries.write_bytes(
            metrics,
            "portcullis_delivery_bytes_total",
            "Payload bytes of partner deliveries committed to the spool, by channel and protocol.",
        );
    }

    /// The counters as JSON.
    pub fn json(&self) -> Value {
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner).clone();
        json!({
            "connections": self.connections.json(),
            "closed": self.closed.json(),
            "active": active,
            "logins": self.logins.json(),
            "deliveries": self.deliveries.json(),
        })
    }
}

/// A served connection, counted active until dropped.
#[derive(Debug)]
pub struct ActiveConnection {
    stats: Arc<PartnerStats>,
    protocol: Protocol,
}

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        self.stats.closed(self.protocol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_land_in_their_families() {
        let stats = PartnerStats::default();
        stats.connection(Protocol::Ftp, "admitted");
        stats.connection(Protocol::Ftp, "refused");
        stats.login(Protocol::Sftp, false);
        stats.delivery("acme", Protocol::Sftp, 10);
        stats.delivery("acme", Protocol::Sftp, 5);
        let stats = Arc::new(stats);
        let open = stats.opened(Protocol::Smtp);
        drop(stats.opened(Protocol::Smtp));
        assert_eq!(stats.active_total(), 1);
        let mut metrics = Metrics::default();
        stats.write(&mut metrics);
        let text = metrics.render();
        for line in [
            "portcullis_partner_connections_total{protocol=\"ftp\",outcome=\"admitted\"} 1\n",
            "portcullis_partner_connections_total{protocol=\"ftp\",outcome=\"refused\"} 1\n",
            "portcullis_partner_logins_total{protocol=\"sftp\",outcome=\"refused\"} 1\n",
            "portcullis_deliveries_total{channel=\"acme\",protocol=\"sftp\"} 2\n",
            "portcullis_delivery_bytes_total{channel=\"acme\",protocol=\"sftp\"} 15\n",
            "portcullis_partner_connections_active{protocol=\"smtp\"} 1\n",
            "portcullis_partner_connections_closed_total{protocol=\"smtp\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(stats.json()["deliveries"][0]["bytes"], 15);
        drop(open);
        assert_eq!(stats.active_total(), 0);
    }
}
