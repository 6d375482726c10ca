//! Shared test harness: a node's spool, a recording receiver, servers and clients.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use envelope::{
    Ack, AckOutcome, Body, DeliveryMeta, DmzConfig, Envelope, EnvelopeId, NodeRole, Partner, Payload, Protocol, Sha256,
};
use message_service::{ClientConfig, Link, Mode, Node, ReceiveError, Receiver, ServerConfig, SpoolReceiver, new_item};
use spool::{SledSpool, Spool, SpoolOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where a node's receiver commits what arrives.
pub const RECEIVED: &str = "received";

/// One node: its spool, what its receiver got, its link.
pub struct Side {
    pub spool: Arc<SledSpool>,
    pub recorder: Arc<Recorder>,
    pub link: Link,
    _dir: tempfile::TempDir,
}

impl Side {
    pub fn new() -> Side {
        let dir = tempfile::tempdir().unwrap();
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).unwrap();
        let recorder = Arc::new(Recorder::new(spool.clone()));
        Side { spool, recorder, link: Link::new(), _dir: dir }
    }

    pub fn dyn_spool(&self) -> Arc<dyn Spool> {
        self.spool.clone()
    }

    pub fn depth(&self, queue: &str) -> u64 {
        self.spool.queue_stats(queue).depth
    }

    pub async fn enqueue(&self, queue: &str, envelopes: &[Envelope]) {
        let items = envelopes.iter().cloned().map(|e| new_item(e).unwrap()).collect();
        self.spool.enqueue(queue, items, false).await.unwrap();
    }
}

/// A receiver that commits into [`RECEIVED`] (deduplicated) and records every
/// envelope with the outcome it got.
pub struct Recorder {
    inner: SpoolReceiver,
    pub seen: Mutex<Vec<(Envelope, AckOutcome)>>,
    /// Cancelled right after the first successful receive, if set.
    pub cancel_after_receive: Mutex<Option<CancellationToken>>,
    /// When set, every receive fails with this.
    pub fail: Mutex<Option<fn() -> ReceiveError>>,
}

impl Recorder {
    fn new(spool: Arc<SledSpool>) -> Recorder {
        Recorder {
            inner: SpoolReceiver::new(spool, RECEIVED),
            seen: Mutex::new(Vec::new()),
            cancel_after_receive: Mutex::new(None),
            fail: Mutex::new(None),
        }
    }

    pub fn committed(&self) -> Vec<Envelope> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|(_, o)| *o == AckOutcome::Committed).map(|(e, _)| e.clone()).collect()
    }

    pub fn outcomes(&self, id: EnvelopeId) -> Vec<AckOutcome> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|(e, _)| e.id == id).map(|(_, o)| o.clone()).collect()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl Receiver for Recorder {
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let failure = *self.fail.lock().unwrap();
        if let Some(failure) = failure {
            return Err(failure());
        }
        let acks = self.inner.receive(envelopes.clone()).await?;
        let mut seen = self.seen.lock().unwrap();
        seen.extend(envelopes.into_iter().zip(acks.iter().map(|a| a.outcome.clone())));
        drop(seen);
        if let Some(token) = self.cancel_after_receive.lock().unwrap().take() {
            token.cancel();
        }
        Ok(acks)
    }
}

pub fn node(id: &str, role: NodeRole) -> Node {
    Node { id: id.into(), role }
}

pub fn delivery(channel: &str, index: usize) -> Envelope {
    let bytes = format!("payload {index} of {channel}").into_bytes();
    Envelope {
        id: EnvelopeId::generate(),
        body: Body::Delivery(DeliveryMeta {
            channel: channel.into(),
            protocol: Protocol::Sftp,
            partner: Partner { login: Some("partner".into()), remote: None },
            path: format!("file-{index}"),
            received_at: envelope::now_millis(),
            size: bytes.len() as u64,
            sha256: Sha256([1; 32]),
            mail: None,
            as2: None,
            fetched: None,
        }),
        payload: Some(Payload::Inline(bytes)),
    }
}

pub fn config_push(generation: u64) -> Envelope {
    Envelope {
        id: EnvelopeId::generate(),
        body: Body::ConfigPush(DmzConfig { generation, ..DmzConfig::default() }),
        payload: None,
    }
}

/// `count` deliveries spread round-robin over `channels`.
pub fn deliveries(channels: &[&str], count: usize) -> Vec<Envelope> {
    (0..count).map(|i| delivery(channels[i % channels.len()], i)).collect()
}

/// Asserts that `got` holds exactly the envelopes of `sent` (same ids, bodies and
/// payloads), each once, and per channel in the order sent.
pub fn assert_exactly_once_in_order(sent: &[Envelope], got: &[Envelope]) {
    assert_eq!(got.len(), sent.len(), "number of committed envelopes");
    let by_id: HashMap<EnvelopeId, &Envelope> = got.iter().map(|e| (e.id, e)).collect();
    assert_eq!(by_id.len(), got.len(), "an envelope was committed twice");
    for envelope in sent {
        assert_eq!(by_id.get(&envelope.id), Some(&envelope), "sent envelope not received intact");
    }
    let mut order: HashMap<Option<String>, Vec<EnvelopeId>> = HashMap::new();
    for envelope in got {
        order.entry(envelope.body.channel().map(str::to_owned)).or_default().push(envelope.id);
    }
    for (channel, ids) in order {
        let expected: Vec<EnvelopeId> =
            sent.iter().filter(|e| e.body.channel().map(str::to_owned) == channel).map(|e| e.id).collect();
        if channel.is_some() {
            assert_eq!(ids, expected, "order in channel {channel:?}");
        }
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "server did not stop cleanly: {stopped:?}");
    }
}

pub async fn start_server(config: ServerConfig, side: &Side, outbound: &'static str) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(message_service::serve(
        listener,
        config,
        side.dyn_spool(),
        outbound,
        side.recorder.clone(),
        side.link.clone(),
        shutdown.clone(),
    ));
    Server { addr, shutdown, task }
}

pub struct Client {
    pub shutdown: CancellationToken,
    pub task: JoinHandle<()>,
}

impl Client {
    pub async fn stop(self) {
        self.shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        assert!(matches!(stopped, Ok(Ok(()))), "client did not stop: {stopped:?}");
    }
}

pub fn start_client(config: ClientConfig, side: &Side, outbound: &'static str) -> Client {
    let shutdown = CancellationToken::new();
    start_client_with(config, side, outbound, shutdown)
}

pub fn start_client_with(
    config: ClientConfig,
    side: &Side,
    outbound: &'static str,
    shutdown: CancellationToken,
) -> Client {
    let task = tokio::spawn(message_service::run_client(
        config,
        side.dyn_spool(),
        outbound,
        side.recorder.clone(),
        side.link.clone(),
        shutdown.clone(),
    ));
    Client { shutdown, task }
}

/// A client config with quick retries.
pub fn client_config(node: Node, mode: Mode, url: String) -> ClientConfig {
    let mut config = ClientConfig::new(node, mode, url);
    config.backoff.initial = Duration::from_millis(20);
    config.backoff.max = Duration::from_millis(200);
    config
}

/// Polls `condition` every 10 ms until it holds; panics after `limit`.
pub async fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `future` with a time limit, so a hang fails the test instead of stalling it.
pub async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future).await.expect("took too long")
}

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
