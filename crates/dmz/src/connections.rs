//! [`Connections`]: the partner connections open now — from where, over what, who
//! logged in (or, for SMTP and AS2, which channel the traffic is for), since when
//! and how many bytes crossed the socket — behind `GET /api/v1/connections`.
//!
//! A connection is listed from admission until its [`Listed`] guard drops with the
//! session. A login names the connection by the partner's address and port, which
//! no two open connections share.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use envelope::Protocol;
use meter::Traffic;
use partner::Peer;
use serde_json::{Value, json};

/// The partner connections open now.
#[derive(Debug, Default)]
pub struct Connections {
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Open>>>,
}

#[derive(Debug)]
struct Open {
    id: u64,
    peer: Peer,
    opened_ms: u64,
    traffic: Arc<Traffic>,
    who: Mutex<Who>,
}

/// Who a connection turned out to be.
#[derive(Debug, Default, Clone)]
struct Who {
    user: Option<String>,
    channel: Option<String>,
}

impl Connections {
    /// Lists a connection from `peer`; the traffic is its own byte count.
    pub fn open(self: &Arc<Self>, peer: Peer) -> (Arc<Traffic>, Listed) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let traffic = Traffic::new();
        let open =
            Open { id, peer, opened_ms: envelope::now_millis(), traffic: traffic.clone(), who: Mutex::default() };
        self.lock().insert(id, Arc::new(open));
        (traffic, Listed { connections: Arc::clone(self), id })
    }

    /// Records who the connection from `peer` is: a login's user and channel, or
    /// just the channel a message is for (`user` None keeps an earlier login).
    pub fn identify(&self, peer: Peer, user: Option<&str>, channel: &str) {
        let open = self.lock().values().find(|o| o.peer.remote == peer.remote).cloned();
        if let Some(open) = open {
            let mut who = open.who.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(user) = user {
                who.user = Some(user.to_owned());
            }
            who.channel = Some(channel.to_owned());
        }
    }

    /// The protocol of each open connection.
    pub fn protocols(&self) -> Vec<Protocol> {
        self.lock().values().map(|o| o.peer.protocol).collect()
    }

    /// How many are open.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// `[{"id", "remote", "protocol", "user", "channel", "opened_ms", "bytes_read", "bytes_written"}]`, oldest first.
    pub fn json(&self) -> Value {
        let open: Vec<Arc<Open>> = self.lock().values().cloned().collect();
        Value::Array(open.iter().map(|o| o.json()).collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Open>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Open {
    fn json(&self) -> Value {
        let who = self.who.lock().unwrap_or_else(PoisonError::into_inner).clone();
        json!({
            "id": self.id,
            "remote": self.peer.remote.to_string(),
            "protocol": self.peer.protocol.to_string(),
            "user": who.user,
            "channel": who.channel,
            "opened_ms": self.opened_ms,
            "bytes_read": self.traffic.read(),
            "bytes_written": self.traffic.written(),
        })
    }
}

/// Keeps a connection listed until dropped.
#[derive(Debug)]
pub struct Listed {
    connections: Arc<Connections>,
    id: u64,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16, protocol: Protocol) -> Peer {
        Peer { remote: ([127, 0, 0, 1], port).into(), protocol }
    }

    #[test]
    fn a_connection_is_listed_with_its_login_and_bytes_until_it_closes() {
        let connections = Arc::new(Connections::default());
        let (traffic, first) = connections.open(peer(40_001, Protocol::Sftp));
        let (_, second) = connections.open(peer(40_002, Protocol::Smtp));
        traffic.add_read(1_000);
        traffic.add_written(20);
        connections.identify(peer(40_001, Protocol::Sftp), Some("acme-user"), "acme");
        connections.identify(peer(40_002, Protocol::Smtp), None, "orders");
        let listed = connections.json();
        assert_eq!(listed[0]["remote"], "127.0.0.1:40001");
        assert_eq!(listed[0]["protocol"], "sftp");
        assert_eq!((&listed[0]["user"], &listed[0]["channel"]), (&json!("acme-user"), &json!("acme")));
        assert_eq!((&listed[0]["bytes_read"], &listed[0]["bytes_written"]), (&json!(1_000), &json!(20)));
        assert_eq!((&listed[1]["user"], &listed[1]["channel"]), (&Value::Null, &json!("orders")));
        drop(first);
        assert_eq!(connections.count(), 1);
        drop(second);
        assert_eq!(connections.json(), json!([]));
    }
}
