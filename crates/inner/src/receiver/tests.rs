use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use envelope::{Partner, Protocol, Sha256};
use sftp::fetch::{FetchError, FetchSink};
use spool::{SledSpool, SpoolOptions, StoredPayload};

use super::*;

fn meta(channel: &str, bytes: &[u8]) -> DeliveryMeta {
    DeliveryMeta {
        channel: channel.into(),
        protocol: Protocol::Admin,
        partner: Partner { login: None, remote: None },
        path: "f".into(),
        received_at: 0,
        size: bytes.len() as u64,
        sha256: Sha256(sha2::Sha256::digest(bytes).into()),
        mail: None,
        as2: None,
        fetched: None,
    }
}

fn delivery(channel: &str, bytes: &[u8], corrupt: bool) -> Envelope {
    let mut meta = meta(channel, bytes);
    if corrupt {
        meta.sha256 = Sha256([0; 32]);
    }
    Envelope { id: EnvelopeId::generate(), body: Body::Delivery(meta), payload: Some(Payload::Inline(bytes.to_vec())) }
}

/// A delivery by reference whose meta describes `bytes`.
fn reference(channel: &str, bytes: &[u8]) -> Envelope {
    let meta = meta(channel, bytes);
    let payload = Payload::Reference { size: meta.size, sha256: meta.sha256 };
    Envelope { id: EnvelopeId::generate(), body: Body::Delivery(meta), payload: Some(payload) }
}

/// Serves payloads by name from memory, in 1000-byte writes; counts fetches.
#[derive(Default)]
struct FakeSource {
    files: Mutex<HashMap<String, Vec<u8>>>,
    fetches: AtomicUsize,
}

impl FakeSource {
    fn serve(&self, envelope: &Envelope, bytes: &[u8]) {
        self.files.lock().expect("lock").insert(envelope.id.to_string(), bytes.to_vec());
    }
}

#[async_trait]
impl PayloadSource for FakeSource {
    async fn fetch(&self, name: &str, expected: u64, sink: &mut dyn FetchSink) -> Result<u64, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let bytes = self.files.lock().expect("lock").get(name).cloned();
        let Some(bytes) = bytes else {
            return Err(FetchError::Broken { path: name.into(), reason: "connection reset".into() });
        };
        for chunk in bytes.chunks(1000) {
            sink.write(chunk).await.map_err(FetchError::Sink)?;
        }
        if bytes.len() as u64 != expected {
            return Err(FetchError::Size { path: name.into(), expected, got: bytes.len() as u64 });
        }
        Ok(expected)
    }
}

fn open_spool(dir: &std::path::Path, quota: u64) -> Arc<SledSpool> {
    let mut options = SpoolOptions::new(dir);
    options.quota_bytes = quota;
    SledSpool::open(options).expect("spool")
}

fn ids(envelopes: &[Envelope]) -> Vec<EnvelopeId> {
    envelopes.iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn a_corrupt_delivery_holds_back_only_its_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = open_spool(dir.path(), 1 << 30);
    let receiver = InnerReceiver::new(spool.clone(), None);
    let frame = vec![
        delivery("a", b"1", false),
        delivery("b", b"2", true),
        delivery("b", b"3", false),
        delivery("a", b"4", false),
    ];
    let ids = ids(&frame);
    let acks = receiver.receive(frame).await.expect("receive");
    let acked: Vec<EnvelopeId> = acks.iter().map(|a| a.id).collect();
    assert_eq!(acked, vec![ids[0], ids[3]], "b's corrupt delivery and the one after it stay with the DMZ");
    assert_eq!(spool.queue_stats(INBOUND).depth, 2);
}

#[tokio::test]
async fn a_reference_is_fetched_checked_committed_and_not_fetched_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = open_spool(dir.path(), 1 << 30);
    let source = Arc::new(FakeSource::default());
    let receiver = InnerReceiver::new(spool.clone(), Some(source.clone()));
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let envelope = reference("a", &bytes);
    source.serve(&envelope, &bytes);

    let acks = receiver.receive(vec![envelope.clone()]).await.expect("receive");
    assert_eq!(acks, vec![Ack { id: envelope.id, outcome: AckOutcome::Committed }]);
    let items = spool.lease(INBOUND, 10).await.expect("lease");
    let [item] = items.as_slice() else { panic!("one item, got {}", items.len()) };
    assert!(matches!(item.payload, StoredPayload::File { size: 300_000, .. }), "{:?}", item.payload);
    assert!(item.payload.read_all().await.expect("read") == bytes, "committed bytes are the fetched bytes");

    // The ack got lost: the DMZ sends it again; it is not fetched again.
    let again = receiver.receive(vec![envelope.clone()]).await.expect("receive again");
    assert_eq!(again, vec![Ack { id: envelope.id, outcome: AckOutcome::Duplicate }]);
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(spool.queue_stats(INBOUND).depth, 1);
}

#[tokio::test]
async fn a_bad_or_broken_fetch_is_never_acked_and_holds_only_its_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = open_spool(dir.path(), 1 << 30);
    let source = Arc::new(FakeSource::default());
    let receiver = InnerReceiver::new(spool.clone(), Some(source.clone()));
    let tampered = reference("b", b"the real bytes");
    source.serve(&tampered, b"the fake bytes");
    let broken = reference("c", b"never served");
    let frame = vec![tampered, delivery("b", b"later", false), broken, delivery("a", b"ok", false)];
    let ids = ids(&frame);

    let acks = receiver.receive(frame.clone()).await.expect("receive");
    assert_eq!(acks.iter().map(|a| a.id).collect::<Vec<_>>(), vec![ids[3]]);
    assert_eq!(spool.queue_stats(INBOUND).depth, 1, "only channel a's delivery is committed");
    let staged = std::fs::read_dir(dir.path().join("staging")).expect("staging dir").count();
    assert_eq!(staged, 0, "no staged file of a failed fetch is kept");

    // Once the DMZ serves the right bytes, the same envelopes go through.
    source.serve(&frame[0], b"the real bytes");
    source.serve(&frame[2], b"never served");
    let acks = receiver.receive(frame).await.expect("receive again");
    let outcomes: Vec<AckOutcome> = acks.into_iter().map(|a| a.outcome).collect();
    use AckOutcome::{Committed, Duplicate};
    assert_eq!(outcomes, vec![Committed, Committed, Committed, Duplicate]);
}

#[tokio::test]
async fn a_full_spool_fails_the_frame_before_fetching() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = open_spool(dir.path(), 100_000);
    let source = Arc::new(FakeSource::default());
    let receiver = InnerReceiver::new(spool.clone(), Some(source.clone()));
    let bytes = vec![7u8; 200_000];
    let envelope = reference("a", &bytes);
    source.serve(&envelope, &bytes);
    let result = receiver.receive(vec![envelope]).await;
    assert!(matches!(result, Err(ReceiveError::InsufficientStorage)), "{result:?}");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_a_fetcher_references_stay_with_the_dmz() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = open_spool(dir.path(), 1 << 30);
    let receiver = InnerReceiver::new(spool.clone(), None);
    let acks = receiver.receive(vec![reference("a", b"x")]).await.expect("receive");
    assert!(acks.is_empty());
    assert_eq!(spool.queue_stats(INBOUND).depth, 0);
}
