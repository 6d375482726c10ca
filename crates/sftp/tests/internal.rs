//! The internal server driven by the real OpenSSH `sftp` client.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{Auth, ClientKey, random_bytes, sftp, ssh_keygen, text};
use sftp::internal::{InternalSftpConfig, PayloadStore, serve};
use tokio_util::sync::CancellationToken;

struct Store {
    dir: PathBuf,
}

impl PayloadStore for Store {
    fn payload(&self, name: &str) -> Option<PathBuf> {
        let path = self.dir.join("payloads").join(name);
        path.is_file().then_some(path)
    }
    fn outbound_dir(&self) -> PathBuf {
        self.dir.join("outbound")
    }
}

struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The bytes the server's connections moved.
    traffic: Arc<meter::Traffic>,
    key: ClientKey,
    dir: tempfile::TempDir,
}

async fn start(admit: fn(IpAddr) -> bool) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ssh_keygen(dir.path(), "id_inner");
    for sub in ["payloads", "outbound", "local"] {
        std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let traffic = meter::Traffic::new();
    let config = InternalSftpConfig {
        host_key: common::host_key(),
        authorized_keys: vec![key.public.clone()],
        admit: Arc::new(admit),
        traffic: meter::Meter::new([traffic.clone()]),
    };
    let store = Arc::new(Store { dir: dir.path().to_owned() });
    let task = tokio::spawn(serve(listener, config, store, shutdown.clone()));
    Server { addr, shutdown, task, traffic, key, dir }
}

impl Server {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn run(&self, script: &str) -> std::process::Output {
        let script = format!("lcd {}\n{script}", self.path("local").display());
        sftp(self.addr, "anyone", Auth::Key(&self.key.private), &script).await
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(15), self.task).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "serve did not return cleanly: {result:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inner_reads_a_payload_by_name_and_writes_outbound_files() {
    let server = start(|_| true).await;
    // Large enough that OpenSSH pipelines many reads at different offsets.
    let payload = random_bytes(9 * 1024 * 1024 + 123);
    std::fs::write(server.path("payloads/01HZPAYLOAD"), &payload).expect("write");
    let reply = random_bytes(2 * 1024 * 1024);
    std::fs::write(server.path("local/reply.bin"), &reply).expect("write");
    let out = server
        .run(
            "get /payloads/01HZPAYLOAD fetched.bin\nls /payloads\nput reply.bin /outbound/reply.tmp\n\
             rename /outbound/reply.tmp /outbound/reply.bin\nput reply.bin /outbound/gone.bin\nrm /outbound/gone.bin\n\
             ls /outbound\n",
        )
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(server.path("local/fetched.bin")).expect("fetched"), payload);
    assert_eq!(std::fs::read(server.path("outbound/reply.bin")).expect("outbound"), reply);
    assert!(!server.path("outbound/reply.tmp").exists() && !server.path("outbound/gone.bin").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("reply.bin"), "{}", text(&out));
    // Both puts went in and the get came out, plus the SSH framing around them.
    let (read, written) = (server.traffic.read(), server.traffic.written());
    let (put, got) = (2 * reply.len() as u64, payload.len() as u64);
    assert!(read >= put && read < put + put / 10 + 65_536, "read {read} for {put} put");
    assert!(written >= got && written < got + got / 10 + 65_536, "written {written} for {got} got");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_payloads_other_paths_and_writes_to_payloads_are_refused() {
    let server = start(|_| true).await;
    std::fs::write(server.path("payloads/known"), b"x").expect("write");
    std::fs::write(server.path("local/f"), b"y").expect("write");
    for script in [
        "get /payloads/unknown x\n",
        "put f /payloads/known\n",
        "put f /elsewhere\n",
        "put f /outbound/../escape\n",
        "put f /outbound/.hidden\n",
        "get /etc/passwd x\n",
    ] {
        let out = server.run(script).await;
        assert!(!out.status.success(), "{script:?} succeeded: {}", text(&out));
    }
    assert_eq!(std::fs::read(server.path("payloads/known")).expect("known"), b"x");
    assert!(!server.path("escape").exists() && !server.path("outbound/.hidden").exists());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_not_authorized_is_refused() {
    let server = start(|_| true).await;
    let stranger = ssh_keygen(server.dir.path(), "id_stranger");
    let out = sftp(server.addr, "anyone", Auth::Key(&stranger.private), "ls /\n").await;
    assert!(!out.status.success(), "{}", text(&out));
    let out = sftp(server.addr, "anyone", Auth::Password("anything"), "ls /\n").await;
    assert!(!out.status.success(), "password login accepted: {}", text(&out));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_not_admitted_is_closed_at_once() {
    let server = start(|_| false).await;
    let out = server.run("ls /\n").await;
    assert!(!out.status.success(), "{}", text(&out));
    server.stop().await;
}
