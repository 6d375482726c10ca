//! Throughput and memory measurements with the real OpenSSH client (ignored by default;
//! run with `cargo test --release -p sftp --test throughput -- --ignored --nocapture
//! --test-threads 1`). They print figures and assert only that the transfers worked.
//! The fake gateway streams uploads to a temp file and fsyncs it at commit.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::gateway::{FakeGateway, USER};
use common::{Auth, run_sftp, ssh_keygen, text};
use sftp::internal::{InternalSftpConfig, PayloadStore};
use sftp::partner_server::{PartnerSftpConfig, serve};
use tokio_util::sync::CancellationToken;

const FAST: &[&str] = &["-c", "aes128-gcm@openssh.com", "-B", "131072"];

/// Writes a file of `mib` MiB of incompressible bytes.
fn big_file(path: &std::path::Path, mib: usize) {
    let block = common::random_bytes(1024 * 1024);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..mib {
        let mut b = block.clone();
        b[..8].copy_from_slice(&(i as u64).to_le_bytes());
        file.write_all(&b).expect("write");
    }
    file.flush().expect("flush");
}

/// MiB to transfer: `SFTP_BENCH_MIB`, default 1024.
fn size_mib() -> usize {
    std::env::var("SFTP_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024)
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: 1 GiB"]
async fn partner_upload_1gib_and_1000_small_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ssh_keygen(dir.path(), "id");
    let gateway = Arc::new(FakeGateway::new(Some(key.public.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let config = PartnerSftpConfig::new(common::host_key());
    let task = tokio::spawn(serve(listener, config, gateway.clone(), shutdown.clone()));

    big_file(&dir.path().join("big.bin"), size_mib());
    let small = dir.path().join("small");
    std::fs::create_dir(&small).expect("mkdir");
    for i in 0..1000 {
        std::fs::write(small.join(format!("f{i:04}.bin")), common::random_bytes(4096)).expect("write");
    }
    let key_path = key.private.clone();
    let d = dir.path().to_owned();
    let (upload, uploaded) = tokio::task::spawn_blocking(move || {
        let script = format!("lcd {}\nput big.bin\n", d.display());
        let start = Instant::now();
        let out = run_sftp(addr, USER, &Auth::Key(&key_path), FAST, &script);
        (out, start.elapsed())
    })
    .await
    .expect("join");
    assert!(upload.status.success(), "{}", text(&upload));
    let bytes = (size_mib() as u64) << 20;
    println!(
        "partner upload {} MiB (aes128-gcm, -B 131072, fsync at commit): {:.0} MB/s",
        size_mib(),
        mb_per_s(bytes, uploaded)
    );

    for fsync in [true, false] {
        gateway.fsync.store(fsync, std::sync::atomic::Ordering::SeqCst);
        let rate = small_files(addr, &key.private, dir.path(), if fsync { "small" } else { "small2" }).await;
        println!("partner 1000 x 4 KiB in one session (fsync at commit: {fsync}): {rate:.0} files/s");
    }
    assert_eq!(gateway.committed().len(), 2001);
    shutdown.cancel();
    let _ = task.await;
}

/// Puts the 1000 files of `dir/small` into remote directory `remote`; files per second.
async fn small_files(addr: std::net::SocketAddr, key: &std::path::Path, dir: &std::path::Path, remote: &str) -> f64 {
    let script = format!("lcd {}\nmkdir {remote}\nput small/* {remote}/\n", dir.display());
    let key = key.to_owned();
    let (out, took) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let out = run_sftp(addr, USER, &Auth::Key(&key), &["-c", "aes128-gcm@openssh.com"], &script);
        (out, start.elapsed())
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}", text(&out));
    1000.0 / took.as_secs_f64()
}

struct Store {
    payload: std::path::PathBuf,
    outbound: std::path::PathBuf,
}

impl PayloadStore for Store {
    fn payload(&self, name: &str) -> Option<std::path::PathBuf> {
        (name == "big").then(|| self.payload.clone())
    }
    fn outbound_dir(&self) -> std::path::PathBuf {
        self.outbound.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: 1 GiB"]
async fn internal_download_1gib() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ssh_keygen(dir.path(), "id");
    big_file(&dir.path().join("payload"), size_mib());
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    let store = Arc::new(Store { payload: dir.path().join("payload"), outbound: dir.path().join("out") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let config = InternalSftpConfig {
        host_key: common::host_key(),
        authorized_keys: vec![key.public.clone()],
        admit: Arc::new(|_| true),
        traffic: meter::Meter::none(),
    };
    let task = tokio::spawn(sftp::internal::serve(listener, config, store, shutdown.clone()));
    let d = dir.path().to_owned();
    let (out, took) = tokio::task::spawn_blocking(move || {
        let script = format!("lcd {}\nget /payloads/big fetched\n", d.display());
        let start = Instant::now();
        let out = run_sftp(addr, "inner", &Auth::Key(&key.private), FAST, &script);
        (out, start.elapsed())
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}", text(&out));
    let bytes = (size_mib() as u64) << 20;
    assert_eq!(std::fs::metadata(dir.path().join("fetched")).expect("fetched").len(), bytes);
    println!("internal download {} MiB (aes128-gcm, -B 131072): {:.0} MB/s", size_mib(), mb_per_s(bytes, took));
    shutdown.cancel();
    let _ = task.await;
}
