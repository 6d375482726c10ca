//! Sizes around the streaming limit: 0 B, 1 B, streaming_size - 1, streaming_size,
//! streaming_size + 1 and 1 GiB arrive intact; the ones above the limit travel by
//! reference (fetched by the inner over the DMZ's internal SFTP).

use std::io::Write;

use crate::support::clients::{SshAuth, assert_ok, partner_key, sftp_batch, write_items};
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload};

const STREAMING: usize = 65_536;

#[tokio::test]
async fn sizes_around_the_streaming_limit_arrive_intact() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key, public) = partner_key(keys.path());
    let options = ClusterOptions { partner_keys: vec![public], streaming_size: STREAMING as u64, ..Default::default() };
    let cluster = Cluster::start(options).await;
    let sizes = [0, 1, STREAMING - 1, STREAMING, STREAMING + 1, 3 * STREAMING + 7];
    let items: Vec<Item> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| Item { channel: "demo".into(), path: format!("s{size}.bin"), bytes: payload(i as u64, size) })
        .collect();
    let local = tempfile::tempdir().expect("tempdir");
    write_items(local.path(), &items);
    let commands: String = items.iter().map(|i| format!("put {}\n", i.path)).collect();
    assert_ok("sftp put", &sftp_batch(&cluster, "demo-user", SshAuth::Key(&key), local.path(), &commands), &cluster);
    assert_delivered(&cluster, &items, &[]).await;
    let fetched = cluster.inner.log_text().matches("payload fetched by reference").count();
    assert_eq!(fetched, 2, "exactly the two payloads above streaming_size travel by reference");
}

#[tokio::test]
async fn a_1_gib_upload_travels_by_reference_and_arrives_intact() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key, public) = partner_key(keys.path());
    let options = ClusterOptions { partner_keys: vec![public], spool_quota_bytes: 3 << 30, ..Default::default() };
    let cluster = Cluster::start(options).await;
    let local = tempfile::tempdir().expect("tempdir");
    let big = local.path().join("big.bin");
    let digest = write_generated(&big, 1 << 30);
    let output = sftp_batch(&cluster, "demo-user", SshAuth::Key(&key), local.path(), "put big.bin\n");
    assert_ok("sftp put of 1 GiB", &output, &cluster);
    let delivered = cluster.inbox().join("demo/big.bin");
    crate::support::wait_for("the 1 GiB file in the inbox", std::time::Duration::from_secs(600), || async {
        delivered.exists().then_some(())
    })
    .await;
    assert_eq!(sha256_file(&delivered), digest, "the delivered 1 GiB file differs");
    assert!(cluster.inner.log_text().contains("payload fetched by reference"), "{}", cluster.logs());
}

/// Writes `size` pseudo-random bytes (generated on the fly) and returns their sha-256.
fn write_generated(path: &std::path::Path, size: usize) -> [u8; 32] {
    use sha2::Digest;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hasher = sha2::Sha256::new();
    let block = payload(42, 1 << 20);
    for i in 0..size / block.len() {
        let mut chunk = block.clone();
        chunk[..8].copy_from_slice(&(i as u64).to_le_bytes());
        hasher.update(&chunk);
        file.write_all(&chunk).expect("write");
    }
    file.flush().expect("flush");
    hasher.finalize().into()
}

fn sha256_file(path: &std::path::Path) -> [u8; 32] {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).expect("read");
    hasher.finalize().into()
}
