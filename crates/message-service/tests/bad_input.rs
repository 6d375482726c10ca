//! Hostile or broken requests get clear 4xx answers, never a panic or a 500, and
//! leave the server working.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use envelope::{Frame, Hello, NODE_HEADER, NodeRole, PROTOCOL_HEADER, PROTOCOL_VERSION, decode, encode};
use message_service::{CONTENT_TYPE, ENVELOPES_PATH, EXCHANGE_PATH, HELLO_PATH, Mode, ServerConfig};
use reqwest::StatusCode;

const TO_INNER: &str = "to-inner";
const MAX_FRAME: usize = 64 << 10;
const LIMIT: Duration = Duration::from_secs(20);

fn config() -> ServerConfig {
    let mut config = ServerConfig::new(node("dmz-1", NodeRole::Dmz), Mode::Pushback);
    config.limits.max_frame_bytes = MAX_FRAME;
    config
}

fn inner_hello(version: u16) -> Vec<u8> {
    encode(&Hello { protocol_version: version, node_id: "inner-1".into(), role: NodeRole::Inner })
}

/// POSTs `body` with the given protocol header (`None`: no header).
async fn post(server: &Server, path: &str, protocol: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    post_to(server.url(), path, protocol, body).await
}

async fn post_to(url: String, path: &str, protocol: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", CONTENT_TYPE)
        .header(NODE_HEADER, "inner-1")
        .body(body);
    if let Some(protocol) = protocol {
        request = request.header(PROTOCOL_HEADER, protocol);
    }
    let response = within(LIMIT, request.send()).await.unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}

async fn good_hello_succeeds(server: &Server) {
    let (status, body) = post(server, HELLO_PATH, Some("1"), inner_hello(PROTOCOL_VERSION)).await;
    assert_eq!(status, StatusCode::OK);
    let hello: Hello = decode(&body, MAX_FRAME).unwrap();
    assert_eq!(hello, Hello { protocol_version: PROTOCOL_VERSION, node_id: "dmz-1".into(), role: NodeRole::Dmz });
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_the_server_keeps_working() {
    init_logs();
    let dmz = Side::new();
    let server = start_server(config(), &dmz, TO_INNER).await;
    good_hello_succeeds(&server).await;

    let frame = encode(&Frame { envelopes: deliveries(&["acme"], 3), acks: vec![] });
    type Case = (&'static str, &'static str, Option<&'static str>, Vec<u8>, StatusCode, &'static str);
    let cases: Vec<Case> = vec![
        (
            "garbage frame",
            EXCHANGE_PATH,
            Some("1"),
            b"\xc1\xff garbage".to_vec(),
            StatusCode::BAD_REQUEST,
            "undecodable",
        ),
        ("garbage hello", HELLO_PATH, Some("1"), b"hello?".to_vec(), StatusCode::BAD_REQUEST, "undecodable"),
        (
            "truncated frame",
            EXCHANGE_PATH,
            Some("1"),
            frame[..frame.len() - 5].to_vec(),
            StatusCode::BAD_REQUEST,
            "undecodable",
        ),
        ("oversized body", EXCHANGE_PATH, Some("1"), vec![0x90; MAX_FRAME + 1], StatusCode::PAYLOAD_TOO_LARGE, ""),
        (
            "missing protocol header",
            EXCHANGE_PATH,
            None,
            frame.clone(),
            StatusCode::BAD_REQUEST,
            "missing portcullis-protocol header",
        ),
        (
            "unparsable protocol header",
            HELLO_PATH,
            Some("one"),
            inner_hello(1),
            StatusCode::BAD_REQUEST,
            "invalid portcullis-protocol header",
        ),
        (
            "wrong protocol header",
            EXCHANGE_PATH,
            Some("2"),
            frame.clone(),
            StatusCode::BAD_REQUEST,
            "protocol version 2 not supported; this node speaks 1",
        ),
        (
            "hello with version 999",
            HELLO_PATH,
            Some("1"),
            inner_hello(999),
            StatusCode::BAD_REQUEST,
            "protocol version 999 not supported; this node speaks 1",
        ),
        ("direct endpoint in pushback mode", ENVELOPES_PATH, Some("1"), frame.clone(), StatusCode::NOT_FOUND, ""),
    ];
    for (name, path, protocol, body, expected, message) in cases {
        let (status, answer) = post(&server, path, protocol, body).await;
        assert_eq!(status, expected, "{name}: {}", text(&answer));
        assert!(text(&answer).contains(message), "{name}: {:?} lacks {message:?}", text(&answer));
        good_hello_succeeds(&server).await;
    }
    assert_eq!(dmz.recorder.count(), 0, "nothing from a refused request was committed");

    // A DMZ calling a DMZ is refused at the handshake.
    let dmz_hello = encode(&Hello { protocol_version: 1, node_id: "dmz-2".into(), role: NodeRole::Dmz });
    let (status, answer) = post(&server, HELLO_PATH, Some("1"), dmz_hello).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text(&answer).contains("dmz node does not talk to another dmz node"));

    // And a good frame still commits.
    let (status, answer) = post(&server, EXCHANGE_PATH, Some("1"), frame).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&answer));
    let answer: Frame = decode(&answer, MAX_FRAME).unwrap();
    assert_eq!(answer.acks.len(), 3);
    assert_eq!(dmz.recorder.count(), 3);
    within(LIMIT, server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_failures_map_to_503_and_507() {
    init_logs();
    let dmz = Side::new();
    let server = start_server(config(), &dmz, TO_INNER).await;
    let frame = encode(&Frame { envelopes: deliveries(&["acme"], 1), acks: vec![] });

    *dmz.recorder.fail.lock().unwrap() = Some(|| message_service::ReceiveError::InsufficientStorage);
    let (status, _) = post(&server, EXCHANGE_PATH, Some("1"), frame.clone()).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);

    *dmz.recorder.fail.lock().unwrap() = Some(|| message_service::ReceiveError::Unavailable("disk on fire".into()));
    let (status, answer) = post(&server, EXCHANGE_PATH, Some("1"), frame.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(&answer).contains("disk on fire"));

    *dmz.recorder.fail.lock().unwrap() = None;
    let (status, _) = post(&server, EXCHANGE_PATH, Some("1"), frame).await;
    assert_eq!(status, StatusCode::OK);
    within(LIMIT, server.stop()).await;
}

/// Counts WARN events that mention a refused address.
struct CountRefusals(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountRefusals {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = String::new();
        event.record(&mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
            fields.push_str(&format!("{}={value:?} ", field.name()));
        });
        if *event.metadata().level() == tracing::Level::WARN && fields.contains("127.0.0.1") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// What a raw client reads after sending a hello request: an HTTP answer, or
/// nothing when the server closes the connection at once.
async fn first_answer(server: &Server) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = within(LIMIT, tokio::net::TcpStream::connect(server.addr)).await.expect("connect");
    let request = format!("POST {HELLO_PATH} HTTP/1.1\r\nHost: dmz\r\nContent-Length: 0\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = within(LIMIT, stream.read_to_end(&mut answer)).await;
    answer
}

// Current-thread runtime: the server's tasks run on this thread, under the
// thread-local subscriber installed here.
#[tokio::test]
async fn a_denied_address_is_closed_before_any_http_byte_with_one_warning() {
    use tracing_subscriber::layer::SubscriberExt;
    let warnings = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CountRefusals(warnings.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let dmz = Side::new();
    let mut denied = config();
    denied.allow = vec!["10.0.0.0/8".parse().unwrap()];
    let server = start_server(denied, &dmz, TO_INNER).await;
    for _ in 0..2 {
        assert_eq!(first_answer(&server).await, b"", "closed without an HTTP answer");
    }
    assert_eq!(warnings.load(Ordering::SeqCst), 2, "one warning per refused connection");
    within(LIMIT, server.stop()).await;

    let mut explicit_deny = config();
    explicit_deny.deny = vec!["127.0.0.0/8".parse().unwrap()];
    let server = start_server(explicit_deny, &dmz, TO_INNER).await;
    assert_eq!(first_answer(&server).await, b"", "closed without an HTTP answer");
    within(LIMIT, server.stop()).await;

    let mut allowed = config();
    allowed.allow = vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()];
    let server = start_server(allowed, &dmz, TO_INNER).await;
    good_hello_succeeds(&server).await;
    within(LIMIT, server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_exchange_supersedes_a_waiting_one() {
    init_logs();
    let dmz = Side::new();
    let server = start_server(config(), &dmz, TO_INNER).await; // long-poll: 25 s
    let empty = encode(&Frame::default());

    let started = tokio::time::Instant::now();
    let first = {
        let body = empty.clone();
        tokio::spawn(post_to(server.url(), EXCHANGE_PATH, Some("1"), body))
    };
    // Wait until the first exchange has arrived (it marks the link up).
    within(LIMIT, eventually(LIMIT, "first exchange arrived", || dmz.link.last_contact().is_some())).await;

    let sent = deliveries(&["acme"], 2);
    dmz.enqueue(TO_INNER, &sent).await;
    let (status, answer) = within(LIMIT, first).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let answer: Frame = decode(&answer, MAX_FRAME).unwrap();
    assert_eq!(answer.envelopes, sent, "the waiting exchange was woken by the enqueue");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Not acked: a new waiting exchange releases them and gets them again at once.
    let (status, answer) = post(&server, EXCHANGE_PATH, Some("1"), empty.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Frame = decode(&answer, MAX_FRAME).unwrap();
    assert_eq!(answer.envelopes, sent, "unacked envelopes are redelivered");

    // Ack them; the next exchange waits — until a newer one supersedes it.
    let acks = sent.iter().map(|e| envelope::Ack { id: e.id, outcome: envelope::AckOutcome::Committed }).collect();
    let waiting = {
        let body = encode(&Frame { envelopes: vec![], acks });
        tokio::spawn(post_to(server.url(), EXCHANGE_PATH, Some("1"), body))
    };
    within(LIMIT, eventually(LIMIT, "acks applied", || dmz.depth(TO_INNER) == 0)).await;
    let started = tokio::time::Instant::now();
    let newer = {
        let body = empty.clone();
        tokio::spawn(post_to(server.url(), EXCHANGE_PATH, Some("1"), body))
    };
    let (status, answer) = within(LIMIT, waiting).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(decode::<Frame>(&answer, MAX_FRAME).unwrap(), Frame::default());
    assert!(started.elapsed() < Duration::from_secs(5), "superseded exchange returned promptly");

    // Shutdown ends the newer waiting exchange promptly too.
    let started = tokio::time::Instant::now();
    within(LIMIT, server.stop()).await;
    let (status, _) = within(LIMIT, newer).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown ended the long-poll");
}
