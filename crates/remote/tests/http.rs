//! HTTP push against an in-process axum server.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use common::{closed_port, payload};
use remote::{EXCERPT_LIMIT, HttpAuth, HttpMethod, HttpSend, RemoteError, Timeouts, TlsTrust, http_send};

fn request(addr: SocketAddr, path: &str) -> HttpSend {
    HttpSend {
        method: HttpMethod::Post,
        url: format!("http://{addr}{path}"),
        content_type: "application/edi-x12".into(),
        auth: HttpAuth::None,
        headers: vec![],
        tls: TlsTrust::System,
        timeouts: Timeouts::default(),
    }
}

fn file(dir: &tempfile::TempDir, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join("body.bin");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn a_file_is_posted_whole_with_its_headers() {
    let (addr, log) = common::http_server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let body = payload(3 << 20);
    let mut send = request(addr, "/ok");
    send.auth = HttpAuth::Basic { user: "partner".into(), password: "pa55word".into() };
    send.headers = vec![("X-Partner-Id".into(), "ACME".into())];
    let reply = http_send(&send, &file(&dir, &body)).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.excerpt.len(), EXCERPT_LIMIT);
    assert!(reply.truncated);

    let received = log.lock().unwrap().pop().unwrap();
    assert_eq!(received.method, "POST");
    assert!(received.body == body, "the body arrived changed");
    let header = |name: &str| received.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("content-type").as_deref(), Some("application/edi-x12"));
    assert_eq!(header("content-length"), Some(body.len().to_string()));
    assert_eq!(header("x-partner-id").as_deref(), Some("ACME"));
    assert_eq!(header("authorization").as_deref(), Some("Basic cGFydG5lcjpwYTU1d29yZA=="));
    assert!(!format!("{send:?}").contains("pa55word"));
}

#[tokio::test]
async fn a_put_with_a_bearer_token_gets_the_short_reply() {
    let (addr, log) = common::http_server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut send = request(addr, "/accepted");
    send.method = HttpMethod::Put;
    send.auth = HttpAuth::Bearer("t0ken".into());
    let reply = http_send(&send, &file(&dir, b"small")).await.unwrap();
    assert_eq!((reply.status, reply.excerpt.as_str(), reply.truncated), (201, "accepted, thank you", false));
    let received = log.lock().unwrap().pop().unwrap();
    assert_eq!(received.method, "PUT");
    assert_eq!(received.headers.get("authorization").unwrap(), "Bearer t0ken");
}

#[tokio::test]
async fn statuses_decide_transience() {
    let (addr, _log) = common::http_server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let body = file(&dir, b"x");
    let unavailable = http_send(&request(addr, "/unavailable"), &body).await.unwrap_err();
    assert!(matches!(unavailable, RemoteError::Http { status: 503, .. }), "{unavailable:?}");
    assert!(unavailable.is_transient());
    assert_eq!(unavailable.reply(), Some("busy, try later"));

    let missing = http_send(&request(addr, "/missing"), &body).await.unwrap_err();
    assert!(matches!(missing, RemoteError::Http { status: 404, .. }), "{missing:?}");
    assert!(!missing.is_transient());

    let moved = http_send(&request(addr, "/moved"), &body).await.unwrap_err();
    assert!(matches!(moved, RemoteError::Http { status: 302, .. }), "{moved:?}");
    assert!(moved.to_string().contains("/elsewhere"), "{moved}");
}

#[tokio::test]
async fn a_closed_port_is_transient_and_a_missing_file_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let closed = SocketAddr::from(([127, 0, 0, 1], closed_port()));
    let error = http_send(&request(closed, "/ok"), &file(&dir, b"x")).await.unwrap_err();
    assert!(matches!(error, RemoteError::Connect { .. }), "{error:?}");
    assert!(error.is_transient());

    let (addr, _log) = common::http_server::start().await;
    let error = http_send(&request(addr, "/ok"), &dir.path().join("absent")).await.unwrap_err();
    assert!(matches!(error, RemoteError::Local { .. }), "{error:?}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn https_trusts_the_pinned_certificate_only() {
    let ca = common::vsftpd::TestCa::new("https test CA");
    let (cert, key) = ca.server_certificate();
    let (addr, log) = common::http_server::start_tls(&cert, &key).await;
    let dir = tempfile::tempdir().unwrap();
    let body = file(&dir, b"over TLS");
    let mut send = request(addr, "/accepted");
    send.url = format!("https://localhost:{}/accepted", addr.port());
    for trust in [cert.clone(), ca.cert_pem.clone()] {
        send.tls = TlsTrust::Pinned(trust);
        let reply = http_send(&send, &body).await.unwrap();
        assert_eq!(reply.status, 201);
    }
    assert_eq!(log.lock().unwrap().len(), 2);

    send.tls = TlsTrust::Pinned(common::vsftpd::TestCa::new("someone else").cert_pem);
    let refused = http_send(&send, &body).await.unwrap_err();
    assert!(matches!(refused, RemoteError::Tls { .. }), "{refused:?}");
    assert!(!refused.is_transient());
}
