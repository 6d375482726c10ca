//! Admission, durability, the worker's retries and outcomes, pickup end to end
//! (with a scripted [`Transport`] in place of partners' servers).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use envelope::{
    AckOutcome, Body, ChannelVerifiers, DmzConfig, Envelope, EnvelopeId, FetchRequest, Payload, RemoteProtocol,
    RemoteTarget, RequestOutcome, SealKey, SecretKind, SeenFile, SendRequest, Sha256,
};
use sha2::Digest;
use spool::{SledSpool, Spool, SpoolOptions, StoredItem};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use transfer::{FetchSink, Plain, TransferError};

use super::*;
use crate::active::ActiveConfig;
use crate::intake::Intake;
use crate::pickup::Pickup;
use crate::{REQUESTS, TO_INNER};

const PASSWORD: &[u8] = b"partner-password";

struct Node {
    dir: tempfile::TempDir,
    spool: Arc<dyn Spool>,
    config: ActiveConfig,
    key: SealKey,
}

impl Node {
    async fn new(with_key: bool) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool: Arc<dyn Spool> = SledSpool::open(SpoolOptions::new(dir.path().join("spool"))).expect("spool");
        std::fs::create_dir_all(dir.path().join("outbound")).expect("outbound dir");
        let config = ActiveConfig::default();
        let key = transfer::seal::generate_key().expect("key");
        let node = Node { dir, spool, config, key };
        node.push(with_key).await;
        node
    }

    async fn push(&self, with_key: bool) {
        let channel = |name: &str| ChannelVerifiers {
            name: name.into(),
            logins: vec![],
            dial: vec!["files.partner.example:22".into()],
            ..Default::default()
        };
        let generation = self.config.get().generation + 1;
        let seal_key = with_key.then(|| self.key.clone());
        let push = DmzConfig { generation, channels: vec![channel("c"), channel("d")], seal_key, ..Default::default() };
        self.config.apply(self.spool.as_ref(), push).await.expect("push");
    }

    fn outbound_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("outbound")
    }

    async fn admit(&self, envelope: Envelope) -> Option<AckOutcome> {
        admit(&self.spool, &self.config, &self.outbound_dir(), envelope).await.expect("admit")
    }

    fn pickup(&self) -> Pickup {
        Pickup::open(Arc::clone(&self.spool), self.dir.path().join("pickup")).expect("pickup")
    }

    fn start(&self, transport: Arc<dyn Transport>) -> (TaskTracker, CancellationToken) {
        let outbound = Arc::new(Outbound {
            spool: Arc::clone(&self.spool),
            config: self.config.clone(),
            intake: Intake::new(Arc::clone(&self.spool), self.config.clone()),
            pickup: self.pickup(),
            transport,
            settings: OutboundSettings { workers: 2, scratch_dir: self.dir.path().join("scratch") },
        });
        let (tasks, shutdown) = (TaskTracker::new(), CancellationToken::new());
        outbound.spawn(&tasks, &shutdown).expect("spawn");
        (tasks, shutdown)
    }

    /// Envelopes queued for the inner (leased, then released again).
    async fn to_inner(&self) -> Vec<(EnvelopeId, Body)> {
        let items = self.spool.lease(TO_INNER, 100).await.expect("lease");
        self.spool.release(TO_INNER, &items.iter().map(|i| i.seq).collect::<Vec<_>>());
        items.iter().map(|i| (EnvelopeId::from_u128(i.id), decode(i))).collect()
    }

    /// The queued envelopes `pick` takes.
    async fn queued<T>(&self, pick: impl Fn(Body) -> Option<T>) -> Vec<(EnvelopeId, T)> {
        self.to_inner().await.into_iter().filter_map(|(id, body)| pick(body).map(|t| (id, t))).collect()
    }

    /// Waits until an outcome is queued for the inner and `requests` is empty.
    async fn outcome(&self) -> (EnvelopeId, RequestOutcome) {
        eventually(|| self.spool.queue_stats(REQUESTS).depth == 0).await;
        let outcomes = self.queued(|body| if let Body::Outcome(o) = body { Some(o) } else { None }).await;
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        outcomes.into_iter().next().expect("one outcome")
    }
}

fn decode(item: &StoredItem) -> Body {
    envelope::decode(&item.header, usize::MAX).expect("body")
}

async fn eventually(mut condition: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached in 10 s");
}

pub(crate) fn target(key: &SealKey, protocol: RemoteProtocol, host: &str, port: u16) -> RemoteTarget {
    RemoteTarget {
        name: "partner-server".into(),
        protocol,
        host: host.into(),
        port,
        user: "us".into(),
        secret_kind: SecretKind::Password,
        secret: transfer::seal::seal(key, SecretKind::Password, PASSWORD).expect("seal"),
        tls_cert_pem: None,
        host_key: None,
        accept_any_host_key: true,
        url_path: None,
        http_put: false,
        mail_from: None,
        mail_to: vec![],
        starttls: false,
        as2: None,
        connect_timeout_ms: 1000,
        io_timeout_ms: 1000,
    }
}

fn send(node: &Node, channel: &str, remote: RemoteTarget, bytes: &[u8], payload: Payload) -> Envelope {
    let request = SendRequest {
        channel: channel.into(),
        name: "report.csv".into(),
        remote,
        directory: "daily".into(),
        size: bytes.len() as u64,
        sha256: Sha256(sha2::Sha256::digest(bytes).into()),
        retries: 2,
        retry_base_ms: 1,
        retry_max_ms: 2,
        delete_after_pickup: false,
    };
    let _ = node;
    Envelope { id: EnvelopeId::generate(), body: Body::Send(request), payload: Some(payload) }
}

fn sftp_send(node: &Node, bytes: &[u8]) -> Envelope {
    let remote = target(&node.key, RemoteProtocol::Sftp, "Files.Partner.example", 22);
    send(node, "c", remote, bytes, Payload::Inline(bytes.to_vec()))
}

#[tokio::test]
async fn a_server_the_channel_does_not_list_is_refused_and_the_inner_told() {
    let node = Node::new(true).await;
    let remote = target(&node.key, RemoteProtocol::Sftp, "evil.example", 22);
    let envelope = send(&node, "c", remote, b"x", Payload::Inline(b"x".to_vec()));
    let id = envelope.id;
    let ack = node.admit(envelope).await;
    let Some(AckOutcome::Rejected { reason }) = ack else { panic!("{ack:?}") };
    assert_eq!(reason, "refused by the DMZ: evil.example:22 is not a server channel c lists");
    assert_eq!(node.spool.queue_stats(REQUESTS).depth, 0);
    let queued = node.to_inner().await;
    let [(outcome_id_, Body::Outcome(outcome))] = queued.as_slice() else { panic!("{queued:?}") };
    assert_eq!(*outcome_id_, outcome_id(id));
    assert!(!outcome.ok && outcome.request == id && outcome.attempts == 0 && outcome.detail == reason);
    // A channel that is not pushed, and a fetch that names "pickup", are refused too.
    let remote = target(&node.key, RemoteProtocol::Sftp, "files.partner.example", 22);
    let unknown = send(&node, "nope", remote.clone(), b"x", Payload::Inline(b"x".to_vec()));
    assert!(matches!(node.admit(unknown).await, Some(AckOutcome::Rejected { .. })));
    let pickup_fetch = FetchRequest {
        channel: "c".into(),
        job: "j".into(),
        remote: RemoteTarget { protocol: RemoteProtocol::Pickup, ..remote },
        directory: "/".into(),
        pattern: "*".into(),
        after: envelope::AfterFetch::Leave,
        seen: vec![],
    };
    let envelope = Envelope { id: EnvelopeId::generate(), body: Body::Fetch(pickup_fetch), payload: None };
    assert!(matches!(node.admit(envelope).await, Some(AckOutcome::Rejected { .. })));
    assert_eq!(node.spool.queue_stats(REQUESTS).depth, 0);
}

#[tokio::test]
async fn a_committed_send_is_durable_before_the_ack_and_once_only() {
    let node = Node::new(true).await;
    let envelope = sftp_send(&node, b"hello partner");
    let id = envelope.id;
    assert_eq!(node.admit(envelope.clone()).await, Some(AckOutcome::Committed));
    assert_eq!(node.admit(envelope).await, Some(AckOutcome::Duplicate));
    let Node { dir, spool, .. } = node;
    drop(spool);
    let spool: Arc<dyn Spool> = SledSpool::open(SpoolOptions::new(dir.path().join("spool"))).expect("reopen");
    let items = spool.lease(REQUESTS, 10).await.expect("lease");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id, id.as_u128());
    assert!(matches!(decode(&items[0]), Body::Send(_)));
    assert_eq!(items[0].payload.read_all().await.expect("payload"), b"hello partner");
}

#[tokio::test]
async fn a_payload_by_reference_is_taken_from_the_outbound_area_after_checking_it() {
    let node = Node::new(true).await;
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let reference =
        Payload::Reference { size: bytes.len() as u64, sha256: Sha256(sha2::Sha256::digest(&bytes).into()) };
    let remote = target(&node.key, RemoteProtocol::Sftp, "files.partner.example", 22);
    let envelope = send(&node, "c", remote, &bytes, reference);
    let file = node.outbound_dir().join(envelope.id.to_string());
    // Missing, then incomplete: left unacked, for the inner to send again.
    assert_eq!(node.admit(envelope.clone()).await, None);
    std::fs::write(&file, &bytes[..1000]).expect("write");
    assert_eq!(node.admit(envelope.clone()).await, None);
    assert_eq!(node.spool.queue_stats(REQUESTS).depth, 0);
    std::fs::write(&file, &bytes).expect("write");
    assert_eq!(node.admit(envelope.clone()).await, Some(AckOutcome::Committed));
    assert!(!file.exists(), "the outbound file is removed after the commit");
    // The ack was lost: the redelivery finds no file but knows the request.
    assert_eq!(node.admit(envelope).await, Some(AckOutcome::Duplicate));
    let items = node.spool.lease(REQUESTS, 10).await.expect("lease");
    assert!(items[0].payload.read_all().await.expect("payload") == bytes);
}

/// Fails transiently `failures` times, then succeeds; checks the secret.
struct Scripted {
    failures: u32,
    calls: AtomicU32,
}

impl Scripted {
    fn new(failures: u32) -> Arc<Scripted> {
        Arc::new(Scripted { failures, calls: AtomicU32::new(0) })
    }

    fn call(&self, secret: &Plain) -> Result<(), TransferError> {
        assert_eq!(secret.bytes.as_slice(), PASSWORD, "the worker opened the sealed secret");
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call <= self.failures { Err(TransferError::transient(format!("421 try later ({call})"))) } else { Ok(()) }
    }
}

#[async_trait]
impl Transport for Scripted {
    async fn fetch(
        &self,
        request: &FetchRequest,
        secret: &Plain,
        sink: &dyn FetchSink,
    ) -> Result<Vec<SeenFile>, TransferError> {
        self.call(secret)?;
        let file =
            transfer::FetchedFile { name: "in.csv".into(), remote_path: "/out/in.csv".into(), listed_size: Some(3) };
        let id = EnvelopeId::from_u128(42);
        sink.store(id, request, &file, &mut &b"abc"[..]).await?;
        Ok(vec![SeenFile { name: file.name, size: Some(3) }])
    }

    async fn send(
        &self,
        _: &SendRequest,
        secret: &Plain,
        _: Option<&str>,
        payload: &Path,
    ) -> Result<String, TransferError> {
        self.call(secret)?;
        assert_eq!(std::fs::read(payload).expect("payload file"), b"hello partner");
        Ok("226 stored".into())
    }
}

#[tokio::test]
async fn a_transient_failure_is_retried_then_reported_as_failed() {
    let node = Node::new(true).await;
    let envelope = sftp_send(&node, b"hello partner");
    let id = envelope.id;
    node.admit(envelope).await;
    let transport = Scripted::new(u32::MAX);
    let (tasks, shutdown) = node.start(transport.clone());
    let (outcome_id_, outcome) = node.outcome().await;
    assert_eq!(outcome_id_, outcome_id(id));
    assert!(!outcome.ok, "{outcome:?}");
    assert_eq!((outcome.attempts, transport.calls.load(Ordering::SeqCst)), (3, 3), "1 + 2 retries");
    assert_eq!(outcome.detail, "421 try later (3)");
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    let on_disk = crate::active::tests::files_contain(node.dir.path(), PASSWORD);
    assert!(on_disk.is_empty(), "the plaintext secret reached the disk: {on_disk:?}");
}

#[tokio::test]
async fn shutdown_interrupts_the_wait_and_the_request_runs_again_after_the_restart() {
    let node = Node::new(true).await;
    let mut envelope = sftp_send(&node, b"hello partner");
    if let Body::Send(request) = &mut envelope.body {
        (request.retry_base_ms, request.retry_max_ms) = (3_600_000, 3_600_000);
    }
    node.admit(envelope).await;
    let transport = Scripted::new(1);
    let (tasks, shutdown) = node.start(transport.clone());
    eventually(|| transport.calls.load(Ordering::SeqCst) == 1).await;
    shutdown.cancel();
    tasks.close();
    tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await.expect("the hour-long wait is cut short");
    assert_eq!(node.spool.queue_stats(REQUESTS).depth, 1, "still queued");
    assert!(node.queued(|body| if let Body::Outcome(o) = body { Some(o) } else { None }).await.is_empty());
    let (_tasks, _shutdown) = node.start(transport.clone());
    let (_, outcome) = node.outcome().await;
    assert!(outcome.ok && outcome.attempts == 1, "{outcome:?}");
}

#[tokio::test]
async fn a_send_that_succeeds_on_a_retry_is_reported_once() {
    let node = Node::new(true).await;
    node.admit(sftp_send(&node, b"hello partner")).await;
    let (_tasks, _shutdown) = node.start(Scripted::new(1));
    let (_, outcome) = node.outcome().await;
    assert!(outcome.ok && outcome.attempts == 2 && outcome.detail == "226 stored", "{outcome:?}");
}

#[tokio::test]
async fn without_the_seal_key_requests_wait_for_the_next_push() {
    let node = Node::new(false).await;
    node.admit(sftp_send(&node, b"hello partner")).await;
    let transport = Scripted::new(0);
    let (_tasks, _shutdown) = node.start(transport.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(transport.calls.load(Ordering::SeqCst), 0);
    assert_eq!(node.spool.queue_stats(REQUESTS).depth, 1);
    node.push(true).await;
    let (_, outcome) = node.outcome().await;
    assert!(outcome.ok && outcome.attempts == 1, "{outcome:?}");
}

#[tokio::test]
async fn fetched_files_become_deliveries_of_the_channel() {
    let node = Node::new(true).await;
    let request = FetchRequest {
        channel: "c".into(),
        job: "nightly".into(),
        remote: target(&node.key, RemoteProtocol::Sftp, "files.partner.example", 22),
        directory: "/out".into(),
        pattern: "*.csv".into(),
        after: envelope::AfterFetch::Delete,
        seen: vec![],
    };
    let envelope = Envelope { id: EnvelopeId::generate(), body: Body::Fetch(request), payload: None };
    assert_eq!(node.admit(envelope).await, Some(AckOutcome::Committed));
    let (_tasks, _shutdown) = node.start(Scripted::new(0));
    let (_, outcome) = node.outcome().await;
    assert!(outcome.ok && outcome.files.len() == 1, "{outcome:?}");
    let deliveries = node.queued(|body| if let Body::Delivery(meta) = body { Some(meta) } else { None }).await;
    let [(id, meta)] = deliveries.as_slice() else { panic!("{deliveries:?}") };
    assert_eq!(*id, EnvelopeId::from_u128(42));
    assert_eq!((meta.channel.as_str(), meta.path.as_str(), meta.size), ("c", "in.csv", 3));
    assert_eq!(meta.protocol, envelope::Protocol::Sftp);
    assert_eq!(meta.partner.login.as_deref(), Some("us"));
    let fetched = meta.fetched.as_deref().expect("fetched");
    assert_eq!(
        (fetched.job.as_str(), fetched.remote.as_str(), fetched.remote_path.as_str()),
        ("nightly", "partner-server", "/out/in.csv")
    );
}

#[tokio::test]
async fn a_pickup_send_is_placed_in_the_channel_outbox_without_dialling() {
    let node = Node::new(true).await;
    let mut remote = target(&node.key, RemoteProtocol::Pickup, "", 0);
    remote.secret_kind = SecretKind::None;
    let envelope = send(&node, "c", remote, b"for you", Payload::Inline(b"for you".to_vec()));
    assert_eq!(node.admit(envelope).await, Some(AckOutcome::Committed), "pickup needs no dial entry");
    let transport = Scripted::new(0);
    let (_tasks, _shutdown) = node.start(transport.clone());
    let (_, outcome) = node.outcome().await;
    assert!(outcome.ok && outcome.detail == "placed in outbox/daily/report.csv for pickup", "{outcome:?}");
    assert_eq!(transport.calls.load(Ordering::SeqCst), 0);
    let path = partner::VPath::resolve(&partner::VPath::root(), "/outbox/daily/report.csv").expect("path");
    let entry = node.pickup().stat("c", &path).expect("stat").expect("placed");
    assert_eq!(entry.size, 7);
    assert!(node.pickup().stat("d", &path).expect("stat").is_none());
}

#[tokio::test]
async fn a_server_unlisted_after_admission_is_not_dialled() {
    let node = Node::new(true).await;
    node.admit(sftp_send(&node, b"hello partner")).await;
    let push = DmzConfig {
        generation: 99,
        channels: vec![ChannelVerifiers { name: "c".into(), logins: vec![], ..Default::default() }],
        seal_key: Some(node.key.clone()),
        ..Default::default()
    };
    node.config.apply(node.spool.as_ref(), push).await.expect("push");
    let transport = Scripted::new(0);
    let (_tasks, _shutdown) = node.start(transport.clone());
    let (_, outcome) = node.outcome().await;
    assert!(!outcome.ok && outcome.attempts == 0, "{outcome:?}");
    assert_eq!(outcome.detail, "refused by the DMZ: files.partner.example:22 is not a server channel c lists");
    assert_eq!(transport.calls.load(Ordering::SeqCst), 0);
}
