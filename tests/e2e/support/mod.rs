//! The harness: a [`Cluster`] of two real node processes with generated configs,
//! plus polling helpers (never fixed sleeps).

pub mod as2;
pub mod check;
pub mod clients;
pub mod cluster;
pub mod http;
pub mod mail;
pub mod payloads;

pub use check::{Item, assert_delivered, inject_many};
pub use cluster::{Cluster, ClusterOptions, Mode};
pub use http::{Injected, delivered_records, inject};
pub use payloads::payload;

use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
