//! Payloads by reference, both modes: a DMZ with a streaming size sends its large
//! file payloads as references, lists their files in `References` while they
//! await the ack, and forgets them once acked.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use envelope::{Ack, AckOutcome, Envelope, EnvelopeId, NodeRole, Payload};
use message_service::{ByReference, Link, Mode, ReceiveError, Receiver, References, ServerConfig};
use tokio_util::sync::CancellationToken;

const TO_INNER: &str = "to-inner";
const TO_DMZ: &str = "to-dmz";
const LIMIT: Duration = Duration::from_secs(20);
const STREAMING_SIZE: u64 = 100_000;

/// The inner's part: reads each referenced file through the table (as the SFTP
/// fetch would), records what it got and how.
struct Fetching {
    references: References,
    got: Mutex<Vec<(EnvelopeId, Vec<u8>, bool)>>,
}

#[async_trait::async_trait]
impl Receiver for Fetching {
    async fn receive(&self, envelopes: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
        let mut acks = Vec::new();
        for envelope in envelopes {
            let (bytes, by_reference) = match envelope.payload {
                Some(Payload::Reference { size, .. }) => {
                    let path = self.references.path(&envelope.id.to_string()).expect("listed while unacked");
                    let bytes = std::fs::read(path).unwrap();
                    assert_eq!(bytes.len() as u64, size);
                    (bytes, true)
                }
                Some(Payload::Inline(bytes)) => (bytes, false),
                None => (Vec::new(), false),
            };
            self.got.lock().unwrap().push((envelope.id, bytes, by_reference));
            acks.push(Ack { id: envelope.id, outcome: AckOutcome::Committed });
        }
        Ok(acks)
    }
}

/// A large and a small delivery, queued on the DMZ.
async fn queue_two(dmz: &Side) -> (Envelope, Envelope) {
    let (mut large, mut small) = (delivery("acme", 1), delivery("acme", 2));
    large.payload = Some(Payload::Inline(vec![7; STREAMING_SIZE as usize + 1]));
    small.payload = Some(Payload::Inline(vec![8; 1000]));
    dmz.enqueue(TO_INNER, &[large.clone(), small.clone()]).await;
    (large, small)
}

async fn check(fetching: &Fetching, dmz: &Side, large: &Envelope, small: &Envelope) {
    let done = || fetching.got.lock().unwrap().len() == 2 && dmz.depth(TO_INNER) == 0;
    within(LIMIT, eventually(LIMIT, "both delivered and acked", done)).await;
    let got = fetching.got.lock().unwrap().clone();
    assert_eq!(got[0], (large.id, vec![7; STREAMING_SIZE as usize + 1], true), "the large one by reference");
    assert_eq!(got[1], (small.id, vec![8; 1000], false), "the small one inline");
    assert!(fetching.references.is_empty(), "acked references are forgotten");
}

fn policy(references: &References) -> Option<ByReference> {
    Some(ByReference::new(|| Some(STREAMING_SIZE), references.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushback_sends_large_payloads_by_reference() {
    init_logs();
    let (dmz, inner) = (Side::new(), Side::new());
    let references = References::new();
    let mut config = ServerConfig::new(node("dmz-1", NodeRole::Dmz), Mode::Pushback);
    config.by_reference = policy(&references);
    let server = start_server(config, &dmz, TO_INNER).await;
    let (large, small) = queue_two(&dmz).await;
    let fetching = Arc::new(Fetching { references: references.clone(), got: Mutex::default() });
    let shutdown = CancellationToken::new();
    let client = client_config(node("inner-1", NodeRole::Inner), Mode::Pushback, server.url());
    let task = tokio::spawn(message_service::run_client(
        client,
        inner.dyn_spool(),
        TO_DMZ,
        fetching.clone(),
        Link::new(),
        shutdown.clone(),
    ));

    check(&fetching, &dmz, &large, &small).await;
    shutdown.cancel();
    within(LIMIT, task).await.unwrap();
    within(LIMIT, server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_sends_large_payloads_by_reference() {
    init_logs();
    let (dmz, inner) = (Side::new(), Side::new());
    let references = References::new();
    let fetching = Arc::new(Fetching { references: references.clone(), got: Mutex::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let config = ServerConfig::new(node("inner-1", NodeRole::Inner), Mode::Direct);
    let server = tokio::spawn(message_service::serve(
        listener,
        config,
        inner.dyn_spool(),
        TO_DMZ,
        fetching.clone(),
        Link::new(),
        shutdown.clone(),
    ));
    let (large, small) = queue_two(&dmz).await;
    let mut client = client_config(node("dmz-1", NodeRole::Dmz), Mode::Direct, url);
    client.by_reference = policy(&references);
    let dmz_client = start_client(client, &dmz, TO_INNER);

    check(&fetching, &dmz, &large, &small).await;
    within(LIMIT, dmz_client.stop()).await;
    shutdown.cancel();
    within(LIMIT, server).await.unwrap().unwrap();
}
