//! Pickup files downloaded by real clients from the DMZ's real partner SFTP and FTP
//! servers: the partner sees its channel's `outbox/`, downloads a file, and the
//! DMZ queues a `PickedUp` for the inner (deleting the file when asked).

use std::sync::Arc;

use argon2::{Argon2, PasswordHasher};
use dmz::active::ActiveConfig;
use dmz::gateway::DmzGateway;
use dmz::home::Homes;
use dmz::intake::Intake;
use dmz::pickup::Pickup;
use envelope::{
    Body, ChannelVerifiers, DmzConfig, LoginVerifier, PickedUp, RemoteProtocol, RemoteTarget, SecretKind, SendRequest,
};
use spool::{SledSpool, Spool, SpoolOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "pickup-password";

struct Dmz {
    dir: tempfile::TempDir,
    spool: Arc<dyn Spool>,
    gateway: Arc<DmzGateway>,
    shutdown: CancellationToken,
}

impl Drop for Dmz {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn dmz() -> Dmz {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool: Arc<dyn Spool> = SledSpool::open(SpoolOptions::new(dir.path().join("spool"))).expect("spool");
    let hash = Argon2::default().hash_password(PASSWORD.as_bytes()).expect("hash").to_string();
    let channel = |name: &str| ChannelVerifiers {
        name: name.into(),
        logins: vec![LoginVerifier {
            user: format!("{name}-user"),
            password_hash: Some(hash.clone()),
            public_keys: vec![],
        }],
        ..Default::default()
    };
    let config = ActiveConfig::default();
    let push = DmzConfig { generation: 1, channels: vec![channel("c"), channel("d")], ..Default::default() };
    config.apply(spool.as_ref(), push).await.expect("push");
    let pickup = Pickup::open(Arc::clone(&spool), dir.path().join("pickup")).expect("pickup");
    let gateway = Arc::new(DmzGateway {
        intake: Intake::new(Arc::clone(&spool), config.clone()),
        config,
        homes: Homes::new(Arc::clone(&spool), pickup),
    });
    Dmz { dir, spool, gateway, shutdown: CancellationToken::new() }
}

impl Dmz {
    async fn place(&self, channel: &str, delete_after_pickup: bool, bytes: &[u8]) {
        let source = self.dir.path().join("source");
        std::fs::write(&source, bytes).expect("source");
        self.gateway.homes.pickup().place(&send(channel, delete_after_pickup), &source).await.expect("place");
    }

    async fn sftp(&self) -> remote::Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let host_key = sftp::keys::load_or_generate(&self.dir.path().join("host_key")).expect("host key");
        let config = sftp::partner_server::PartnerSftpConfig::new(host_key);
        tokio::spawn(sftp::partner_server::serve(listener, config, self.gateway.clone(), self.shutdown.clone()));
        endpoint(remote::Protocol::Sftp, port)
    }

    async fn ftp(&self) -> remote::Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(ftp::serve(listener, ftp::FtpConfig::default(), self.gateway.clone(), self.shutdown.clone()));
        endpoint(remote::Protocol::Ftp, port)
    }

    async fn picked_up(&self) -> Vec<PickedUp> {
        let items = self.spool.lease(dmz::TO_INNER, 100).await.expect("lease");
        self.spool.release(dmz::TO_INNER, &items.iter().map(|i| i.seq).collect::<Vec<_>>());
        let bodies = items.iter().map(|i| envelope::decode::<Body>(&i.header, usize::MAX).expect("body"));
        bodies.filter_map(|body| if let Body::PickedUp(p) = body { Some(p) } else { None }).collect()
    }
}

/// A pickup send of `report.csv` into `outbox/daily/` (as the inner would build it).
fn send(channel: &str, delete_after_pickup: bool) -> SendRequest {
    let remote = RemoteTarget {
        name: "pickup".into(),
        protocol: RemoteProtocol::Pickup,
        host: String::new(),
        port: 0,
        user: String::new(),
        secret_kind: SecretKind::None,
        secret: Default::default(),
        tls_cert_pem: None,
        host_key: None,
        accept_any_host_key: false,
        url_path: None,
        http_put: false,
        mail_from: None,
        mail_to: vec![],
        starttls: false,
        as2: None,
        connect_timeout_ms: 0,
        io_timeout_ms: 0,
    };
    SendRequest {
        channel: channel.into(),
        name: "report.csv".into(),
        remote,
        directory: "daily".into(),
        size: 0,
        sha256: envelope::Sha256([0; 32]),
        retries: 0,
        retry_base_ms: 0,
        retry_max_ms: 0,
        delete_after_pickup,
    }
}

fn endpoint(protocol: remote::Protocol, port: u16) -> remote::Endpoint {
    let mut endpoint =
        remote::Endpoint::new(protocol, "127.0.0.1", port, "c-user", remote::Secret::Password(PASSWORD.into()));
    endpoint.accept_any_host_key = true;
    endpoint
}

async fn download(endpoint: &remote::Endpoint) -> (Vec<String>, Vec<u8>) {
    let mut session = remote::connect(endpoint).await.expect("login");
    let names = session.list("/outbox/daily").await.expect("list").into_iter().map(|e| e.name).collect();
    let mut bytes = Vec::new();
    session.download("/outbox/daily/report.csv", &mut bytes).await.expect("download");
    session.close().await.expect("close");
    (names, bytes)
}

#[tokio::test]
async fn a_partner_downloads_its_pickup_file_over_sftp_and_the_inner_hears_of_it() {
    let dmz = dmz().await;
    dmz.place("c", false, b"report for c").await;
    dmz.place("d", false, b"report for d, not for c").await;
    let endpoint = dmz.sftp().await;
    let (names, bytes) = download(&endpoint).await;
    assert_eq!((names, bytes.as_slice()), (vec!["report.csv".to_owned()], &b"report for c"[..]));
    let picked = dmz.picked_up().await;
    let [report] = picked.as_slice() else { panic!("{picked:?}") };
    assert_eq!((report.channel.as_str(), report.path.as_str(), report.size), ("c", "outbox/daily/report.csv", 12));
    assert_eq!(report.partner.login.as_deref(), Some("c-user"));
    assert!(!report.deleted && report.partner.remote.is_some());
    // Kept: it can be downloaded again.
    assert_eq!(download(&endpoint).await.1, b"report for c");
}

#[tokio::test]
async fn a_pickup_file_to_delete_is_gone_after_an_ftp_download() {
    let dmz = dmz().await;
    dmz.place("c", true, b"once").await;
    let endpoint = dmz.ftp().await;
    let (_, bytes) = download(&endpoint).await;
    assert_eq!(bytes, b"once");
    let picked = dmz.picked_up().await;
    assert!(picked.len() == 1 && picked[0].deleted, "{picked:?}");
    let mut session = remote::connect(&endpoint).await.expect("login");
    assert!(session.list("/outbox/daily").await.map_or(true, |entries| entries.is_empty()));
}
