//! Counters of partner traffic on the DMZ since it started: connections admitted
//! or refused by the address rules, logins accepted or refused, deliveries (count
//! and bytes) per channel and protocol, socket bytes read and written per protocol
//! (with rates), and the peer node's traffic (MessageService and internal SFTP).
//! Shown as Prometheus families on `/metrics` and as JSON on `/api/v1/stats`; the
//! open connections themselves are in [`Connections`].

use std::collections::BTreeMap;
use std::sync::Arc;

use envelope::Protocol;
use meter::Meter;
use partner::Peer;
use plumbing::metrics::Metrics;
use plumbing::tallies::Tallies;
use plumbing::traffic::TrafficTable;
use serde_json::{Value, json};

use crate::connections::{Connections, Listed};

/// The partner counters of one DMZ node; shared by its sessions and admin routes.
#[derive(Debug)]
pub struct PartnerStats {
    connections: Tallies,
    /// Served connections that ended, by protocol.
    closed: Tallies,
    logins: Tallies,
    deliveries: Tallies,
    /// Socket bytes of partner connections, by protocol.
    traffic: Arc<TrafficTable>,
    /// Socket bytes of the peer node's connections, by channel.
    peer: Arc<TrafficTable>,
    /// The served connections open now.
    open: Arc<Connections>,
}

impl Default for PartnerStats {
    fn default() -> Self {
        PartnerStats {
            connections: Tallies::default(),
            closed: Tallies::default(),
            logins: Tallies::default(),
            deliveries: Tallies::default(),
            traffic: Arc::new(TrafficTable::partner()),
            peer: Arc::new(TrafficTable::peer()),
            open: Arc::default(),
        }
    }
}

impl PartnerStats {
    /// A connection was accepted and then `outcome`: "admitted", "refused" by the
    /// address rules, or turned away while "paused".
    pub fn connection(&self, protocol: Protocol, outcome: &str) {
        self.connections.add(vec![("protocol", protocol.to_string()), ("outcome", outcome.into())], 0);
    }

    /// A served connection opened: listed (so counted active) until the returned
    /// guard drops; the meter counts its bytes (its own and its protocol's).
    pub fn opened(self: &Arc<Self>, peer: Peer) -> (Meter, ActiveConnection) {
        let protocol = peer.protocol;
        let (own, listed) = self.open.open(peer);
        let meter = Meter::new([own, self.traffic.row(&protocol.to_string())]);
        (meter, ActiveConnection { stats: Arc::clone(self), protocol, _listed: listed })
    }

    /// The open connections (see [`Connections`]).
    pub fn connections(&self) -> &Connections {
        &self.open
    }

    /// Partner socket traffic, by protocol.
    pub fn partner_traffic(&self) -> &Arc<TrafficTable> {
        &self.traffic
    }

    /// The peer node's traffic (`message_service`, `internal_sftp`).
    pub fn peer_traffic(&self) -> &Arc<TrafficTable> {
        &self.peer
    }

    /// The tables whose rates the node samples.
    pub fn traffic_tables(&self) -> Vec<Arc<TrafficTable>> {
        vec![self.traffic.clone(), self.peer.clone()]
    }

    /// Served connections open now, over all protocols.
    pub fn active_total(&self) -> u64 {
        self.open.count() as u64
    }

    /// Served connections open now, by protocol: every protocol served since start
    /// (0 when none is open now).
    fn active(&self) -> BTreeMap<String, u64> {
        let mut active: BTreeMap<String, u64> = self.traffic.labels().into_iter().map(|p| (p, 0)).collect();
        for protocol in self.open.protocols() {
            *active.entry(protocol.to_string()).or_default() += 1;
        }
        active
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
        metrics.gauge(
            "portcullis_partner_connections_active",
            "Served partner connections open now, by protocol.",
            self.active().into_iter().map(|(protocol, n)| (vec![("protocol", protocol)], n as f64)),
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
        self.traffic.write(metrics, "partner sockets (FTP: data connections)");
        self.peer.write(metrics, "the inner node's connections");
    }

    /// The counters as JSON.
    pub fn json(&self) -> Value {
        json!({
            "connections": self.connections.json(),
            "closed": self.closed.json(),
            "active": self.active(),
            "logins": self.logins.json(),
            "deliveries": self.deliveries.json(),
            "traffic": self.traffic.json(),
            "peer_traffic": self.peer.json(),
        })
    }
}

/// A served connection, listed (so counted active) until dropped; then counted
/// closed.
#[derive(Debug)]
pub struct ActiveConnection {
    stats: Arc<PartnerStats>,
    protocol: Protocol,
    _listed: Listed,
}

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        self.stats.closed.add(vec![("protocol", self.protocol.to_string())], 0);
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
        let smtp = |port| Peer { remote: ([127, 0, 0, 1], port).into(), protocol: Protocol::Smtp };
        let (meter, open) = stats.opened(smtp(2525));
        meter.add_read(300);
        meter.add_written(12);
        drop(stats.opened(smtp(2526)));
        assert_eq!(stats.active_total(), 1);
        assert_eq!(stats.connections().count(), 1);
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
            "portcullis_partner_bytes_total{protocol=\"smtp\",direction=\"read\"} 300\n",
            "portcullis_partner_bytes_total{protocol=\"smtp\",direction=\"written\"} 12\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(stats.json()["deliveries"][0]["bytes"], 15);
        assert_eq!(stats.connections().json()[0]["bytes_read"], 300);
        drop(open);
        assert_eq!(stats.active_total(), 0);
        assert_eq!(stats.connections().count(), 0);
    }
}
