//! The harness: a [`Cluster`] of two real node processes with generated configs,
//! plus polling helpers (never fixed sleeps).

pub mod as2;
pub mod check;
pub mod clients;
pub mod cluster;
pub mod http;
pub mod mail;
pub mod outbound;
pub mod partners;
pub mod payloads;

pub use check::{Item, assert_delivered, inject_many};
pub use cluster::{Cluster, ClusterOptions, Mode};
pub use http::{Injected, client_with_token, delivered_records, inject};
pub use payloads::payload;

use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
/// Never the same port twice in this test process: the kernel may hand a released
/// port 0 out again at once, and one cluster's two listeners on one port fail to start.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let port = listener.local_addr().expect("local addr").port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
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

/// Whether any file under `dir` holds `needle`.
pub fn any_file_holds(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|entry| {
        let path = entry.path();
        match path.is_dir() {
            true => any_file_holds(&path, needle),
            false => std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle)),
        }
    })
}
