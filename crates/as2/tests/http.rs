//! The HTTP side of the real `serve()`: routes, limits, refusals without an MDN,
//! transient failures, the session limit and shutdown. Plain (unsigned,
//! unencrypted) messages, so no Python is needed; pyas2lib.rs covers the crypto.

mod common;

use std::sync::Arc;
use std::time::Duration;

use as2::As2Config;
use base64::Engine as _;
use common::{ACME, FakeGateway, US, identity, partnership, post, start};
use openssl::hash::{MessageDigest, hash};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn gateway() -> (tempfile::TempDir, Arc<FakeGateway>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let partner = identity(dir.path(), "partner");
    let us = identity(dir.path(), "us");
    (dir, FakeGateway::with(partnership(&partner, &us)))
}

/// The headers of a plain AS2 message from [`ACME`] to [`US`].
fn plain(message_id: &str, mdn: bool) -> Vec<(String, String)> {
    let mut headers = vec![
        ("AS2-Version", "1.2"),
        ("AS2-From", "\"Acme EU\""),
        ("AS2-To", US),
        ("Message-ID", message_id),
        ("Content-Type", "application/edi-x12"),
        ("Content-Disposition", "attachment; filename=\"po.x12\""),
    ];
    if mdn {
        headers.push(("Disposition-Notification-To", "edi@acme.example"));
    }
    headers.into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect()
}

const BODY: &[u8] = b"ISA*00*~GS*PO~\r\n";

#[tokio::test]
async fn only_post_to_the_as2_path_is_served() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    let base = server.url.trim_end_matches(as2::AS2_PATH);
    let client = reqwest::Client::new();
    let other = client.post(format!("{base}/other")).body("x").send().await.expect("post");
    assert_eq!(other.status(), 404);
    let get = client.get(&server.url).send().await.expect("get");
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers().get("allow").map(|v| v.as_bytes()), Some(&b"POST"[..]));
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_plain_message_gets_an_unsigned_mdn_with_the_mic_of_the_received_entity() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    let answer = post(&server.url, &plain("<plain-1@acme>", true), BODY.to_vec()).await;
    assert_eq!(answer.status, 200);
    let content_type = answer.header("content-type").expect("content type");
    assert!(content_type.starts_with("multipart/report; report-type=disposition-notification; boundary="));
    assert_eq!(answer.header("mime-version"), Some("1.0"));
    assert!(answer.header("message-id").is_some_and(|id| id.starts_with("<mdn-") && id.ends_with("@portcullis>")));
    let text = answer.text();
    assert!(text.contains("Original-Message-ID: <plain-1@acme>\r\n"), "{text}");
    assert!(text.contains("Original-Recipient: rfc822; PORTCULLIS\r\n"), "{text}");
    assert!(text.contains("Disposition: automatic-action/MDN-sent-automatically; processed\r\n"), "{text}");
    let entity = [
        &b"Content-Type: application/edi-x12\r\nContent-Disposition: attachment; filename=\"po.x12\"\r\n\r\n"[..],
        BODY,
    ]
    .concat();
    let mic = base64::engine::general_purpose::STANDARD.encode(hash(MessageDigest::sha256(), &entity).expect("sha256"));
    assert!(text.contains(&format!("Received-Content-MIC: {mic}, sha256\r\n")), "{text}");
    let deliveries = gateway.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        (deliveries[0].payload.to_vec(usize::MAX).expect("payload").as_slice(), deliveries[0].filename.as_deref()),
        (BODY, Some("po.x12"))
    );
    assert_eq!((deliveries[0].from.as_str(), deliveries[0].message_id.as_str()), (ACME, "plain-1@acme"));
    server.stop().await;
}

#[tokio::test]
async fn without_an_mdn_request_the_disposition_is_plain_text() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    let answer = post(&server.url, &plain("<no-mdn@acme>", false), BODY.to_vec()).await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "processed\r\n"));
    let mut unknown = plain("<no-mdn-2@acme>", false);
    unknown[1].1 = "Stranger".into();
    let answer = post(&server.url, &unknown, BODY.to_vec()).await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "processed/error: unknown-trading-partner\r\n"));
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn missing_as2_headers_are_a_bad_request_without_mdn() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    for missing in ["AS2-From", "AS2-To", "Message-ID"] {
        let headers: Vec<_> = plain("<x@acme>", true).into_iter().filter(|(n, _)| n != missing).collect();
        let answer = post(&server.url, &headers, BODY.to_vec()).await;
        assert_eq!(answer.status, 400, "{missing}");
        assert!(answer.text().contains(missing), "{missing}: {}", answer.text());
        assert!(answer.header("as2-from").is_none());
    }
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_and_while_reading() {
    let (_dir, gateway) = gateway();
    let config = As2Config { max_message_bytes: 1024, ..As2Config::default() };
    let server = start(gateway.clone(), config).await;
    let answer = post(&server.url, &plain("<big-1@acme>", true), vec![b'x'; 1025]).await;
    assert_eq!(answer.status, 413);
    // Chunked, no Content-Length: refused once the limit is crossed.
    let mut stream = TcpStream::connect(address(&server.url)).await.expect("connect");
    let head = format!(
        "POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-From: ACME\r\nAS2-To: {US}\r\nMessage-ID: <big-2@acme>\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    for _ in 0..3 {
        stream.write_all(format!("200\r\n{}\r\n", "y".repeat(512)).as_bytes()).await.expect("chunk");
    }
    let mut response = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response)).await.expect("answered");
    let response = String::from_utf8_lossy(&response[..read.expect("read")]).into_owned();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    let answer = post(&server.url, &plain("<small@acme>", true), vec![b'z'; 1024]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}

/// `host:port` of the server.
fn address(url: &str) -> String {
    url.trim_start_matches("http://").trim_end_matches(as2::AS2_PATH).to_owned()
}

#[tokio::test]
async fn keys_not_loaded_and_transient_delivery_failures_are_503_without_mdn() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    gateway.keys_not_loaded.lock().expect("lock").insert(ACME.to_owned());
    let answer = post(&server.url, &plain("<retry@acme>", true), BODY.to_vec()).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("retry-after"), Some("60"));
    assert!(answer.header("as2-from").is_none());
    gateway.keys_not_loaded.lock().expect("lock").clear();
    gateway.set_unavailable(true);
    let answer = post(&server.url, &plain("<retry@acme>", true), BODY.to_vec()).await;
    assert_eq!(answer.status, 503);
    assert!(!answer.text().contains("processed"));
    assert!(gateway.deliveries().is_empty());
    gateway.set_unavailable(false);
    let answer = post(&server.url, &plain("<retry@acme>", true), BODY.to_vec()).await;
    assert_eq!(answer.status, 200);
    assert!(answer.text().contains("; processed\r\n"));
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_body_not_received_in_time_is_refused() {
    let (_dir, gateway) = gateway();
    let config = As2Config { request_timeout: Duration::from_millis(200), ..As2Config::default() };
    let server = start(gateway.clone(), config).await;
    let mut stream = TcpStream::connect(address(&server.url)).await.expect("connect");
    let head = format!(
        "POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-From: ACME\r\nAS2-To: {US}\r\nMessage-ID: <slow@acme>\r\n\
         Content-Length: 100\r\n\r\nonly ten.."
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut response = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response)).await.expect("answered");
    let response = String::from_utf8_lossy(&response[..read.expect("read")]).into_owned();
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_session_limit_get_503() {
    let (_dir, gateway) = gateway();
    let config = As2Config { max_sessions: 1, ..As2Config::default() };
    let server = start(gateway.clone(), config).await;
    let address = address(&server.url);
    // The first connection holds the only session (idle, no request yet).
    let _first = TcpStream::connect(&address).await.expect("connect");
    let mut response = String::new();
    // The accept loop may not have counted the first one yet: ask until refused.
    for _ in 0..50 {
        let mut second = TcpStream::connect(&address).await.expect("connect");
        second.write_all(b"GET /as2 HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut bytes = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), second.read_to_end(&mut bytes)).await;
        response = String::from_utf8_lossy(&bytes).into_owned();
        if response.starts_with("HTTP/1.1 503") {
            break;
        }
    }
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    let client = reqwest::Client::new();
    let mut request = client.post(&server.url).body(BODY.to_vec());
    for (name, value) in plain("<keepalive@acme>", false) {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.expect("post").status(), 200);
    // The client keeps its connection alive; shutdown must not wait for it.
    let shutdown = server.shutdown.clone();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server.task)
        .await
        .expect("serve returned in time")
        .expect("join")
        .expect("serve");
}

#[tokio::test]
async fn an_async_mdn_to_a_non_http_url_is_not_sent_but_the_message_is_accepted() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    let mut headers = plain("<async-mailto@acme>", true);
    headers.push(("Receipt-Delivery-Option".into(), "mailto:edi@acme.example".into()));
    let answer = post(&server.url, &headers, BODY.to_vec()).await;
    assert_eq!((answer.status, answer.body.len()), (200, 0));
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_partner_never_makes_us_dial_out() {
    let (_dir, gateway) = gateway();
    let server = start(gateway.clone(), As2Config::default()).await;
    let mut headers = plain("<stranger@acme>", true);
    headers[1].1 = "Stranger".into();
    headers.push(("Receipt-Delivery-Option".into(), "http://127.0.0.1:9/mdn".into()));
    let answer = post(&server.url, &headers, BODY.to_vec()).await;
    assert_eq!(answer.status, 200);
    assert!(answer.text().contains("processed/error: unknown-trading-partner\r\n"), "{}", answer.text());
    assert_eq!(answer.header("as2-to"), Some("Stranger"));
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}
