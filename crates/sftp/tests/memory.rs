//! Memory of many idle sessions (ignored by default; run with `cargo test --release -p
//! sftp --test memory -- --ignored --nocapture`). The clients (russh) run in the same
//! process as the server, so the figure printed is an upper bound for the server.

mod common;

use std::sync::Arc;

use common::gateway::{FakeGateway, USER};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use sftp::partner_server::{PartnerSftpConfig, serve};
use tokio_util::sync::CancellationToken;

const SESSIONS: usize = 1000;

struct AnyHost;

impl russh::client::Handler for AnyHost {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: 1000 sessions"]
async fn a_thousand_idle_sftp_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = common::ssh_keygen(dir.path(), "id");
    let private = Arc::new(sftp::keys::load_or_generate(&key.private).expect("load key"));
    let gateway = Arc::new(FakeGateway::new(Some(key.public.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, PartnerSftpConfig::new(common::host_key()), gateway, shutdown.clone()));

    let before = rss_kib();
    let config = Arc::new(russh::client::Config::default());
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let mut ssh = russh::client::connect(config.clone(), addr, AnyHost).await.expect("connect");
        let auth = ssh.authenticate_publickey(USER, PrivateKeyWithHashAlg::new(private.clone(), None)).await;
        assert!(auth.expect("auth").success());
        let channel = ssh.channel_open_session().await.expect("channel");
        channel.request_subsystem(true, "sftp").await.expect("subsystem");
        let sftp = russh_sftp::client::SftpSession::new(channel.into_stream()).await.expect("sftp init");
        assert_eq!(sftp.canonicalize(".").await.expect("realpath"), "/");
        sessions.push((ssh, sftp));
    }
    let after = rss_kib();
    println!(
        "{SESSIONS} idle SFTP sessions: RSS {} -> {} MiB (+{} KiB per session, server and client together)",
        before / 1024,
        after / 1024,
        (after - before) / SESSIONS as u64
    );
    assert!(after - before < 256 * 1024, "1000 idle sessions took more than 256 MiB");
    drop(sessions);
    shutdown.cancel();
    let _ = task.await;
}
