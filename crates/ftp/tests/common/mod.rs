//! Test harness: a server on loopback over the fake gateway, real clients (curl, lftp) and a
//! raw control-connection client for what real clients will not send.
#![allow(dead_code)]

pub mod gateway;
pub mod raw;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use ftp::{FtpConfig, TlsFiles};
use gateway::FakeGateway;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub addr: SocketAddr,
    pub gateway: Arc<FakeGateway>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("ftp://127.0.0.1:{}/{}", self.port(), path.trim_start_matches('/'))
    }
}

/// A passive port range of its own for each server: 64 ports from a free one (tests run in
/// parallel; a port taken anyway only makes libunftp try another).
pub fn passive_range() -> std::ops::RangeInclusive<u16> {
    let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("probe port");
    let start = probe.local_addr().expect("probe addr").port().min(65535 - 64);
    start..=start + 63
}

pub async fn start(gateway: FakeGateway, tls: bool) -> TestServer {
    start_with(gateway, tls, |_| {}).await
}

pub async fn start_with(gateway: FakeGateway, tls: bool, tweak: impl FnOnce(&mut FtpConfig)) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = FtpConfig { passive_ports: passive_range(), ..FtpConfig::default() };
    if tls {
        let files = TlsFiles { cert: dir.path().join("cert.pem"), key: dir.path().join("key.pem") };
        partner::tls::load_or_generate_self_signed(&files.cert, &files.key, &["localhost".into(), "127.0.0.1".into()])
            .expect("certificate");
        config.tls = Some(files);
    }
    tweak(&mut config);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let gateway = Arc::new(gateway);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(ftp::serve(listener, config, gateway.clone(), shutdown.clone()));
    TestServer { addr, gateway, shutdown, task, dir }
}

/// The standard test gateway: `alice`/`secret` (channel `acme`), `tina`/`tls-only` (channel
/// `bank`, TLS required).
pub fn gateway() -> FakeGateway {
    FakeGateway::new().with_user("alice", "secret", "acme", false).with_user("tina", "tls-only", "bank", true)
}

/// Fails the test clearly when a client binary is missing.
pub fn require(binary: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(binary).is_file()));
    assert!(found, "this test needs `{binary}` on PATH (apt-get install {binary})");
}

pub async fn run(program: &str, args: &[&str]) -> Output {
    require(program);
    let child = tokio::process::Command::new(program).args(args).kill_on_drop(true).output();
    tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish in 120 s"))
        .expect("client runs")
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `curl -T local ftp://user:pass@host/remote` (`tls`: `--ssl-reqd -k`).
pub async fn curl_put(server: &TestServer, user: &str, pass: &str, local: &Path, remote: &str, tls: bool) -> Output {
    let url = server.url(remote);
    let credentials = format!("{user}:{pass}");
    let local = local.to_str().expect("utf-8 path");
    let mut args = vec!["-sS", "--max-time", "60", "-u", &credentials, "-T", local, &url];
    if tls {
        args.extend(["--ssl-reqd", "-k"]);
    }
    run("curl", &args).await
}

/// `lftp -u user,pass -e "<settings>; script; bye" ftp://host:port`.
pub async fn lftp(server: &TestServer, user: &str, pass: &str, script: &str, tls: bool) -> Output {
    let settings = if tls {
        "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:verify-certificate no"
    } else {
        "set ftp:ssl-allow no"
    };
    let commands = format!("set net:max-retries 1; set net:timeout 20; {settings}; {script}; bye");
    let credentials = format!("{user},{pass}");
    let url = format!("ftp://127.0.0.1:{}", server.port());
    run("lftp", &["-u", &credentials, "-e", &commands, &url]).await
}

/// Deterministic, incompressible-looking test bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, bytes).expect("write");
    path
}
