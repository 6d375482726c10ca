//! The AS2 sender against our own receiver (the real `serve()` on 127.0.0.1:0):
//! every layering with a signed synchronous MDN, other receipts, and the failures a
//! caller must tell apart (permanent: refused by the MDN, other HTTP errors;
//! transient: no server, 503). No Python needed; sender_pyas2lib.rs is the interop.

mod common;

use as2::{As2Config, As2Outbound, Cipher, MdnRequest, MicAlg, OutboundMessage, SendError, Sent};
use common::{ACME, FakeGateway, Identity, MdnEndpoint, US, identity, outbound, partnership, start};

/// CRLF, a bare LF, NUL and high bytes: any re-encoding shows.
const PAYLOAD: &[u8] = b"ISA*00*          *ZZ*ACME~\r\nGS*PO\nbin\x00\xff\xfe\r\n";

struct Setup {
    _dir: tempfile::TempDir,
    /// The sender ([`ACME`]) and the receiver ([`US`]).
    acme: Identity,
    us: Identity,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let acme = identity(dir.path(), "acme");
    let us = identity(dir.path(), "us");
    Setup { _dir: dir, acme, us }
}

impl Setup {
    /// ACME's partnership with us: signed, encrypted, signed synchronous MDN.
    fn outbound(&self, url: &str) -> As2Outbound {
        outbound(ACME, &self.acme, US, &self.us, url)
    }
}

fn message(filename: &str) -> OutboundMessage {
    OutboundMessage { filename: Some(filename.into()), ..OutboundMessage::new(PAYLOAD.to_vec()) }
}

async fn send(outbound: &As2Outbound, message: &OutboundMessage) -> Result<Sent, SendError> {
    as2::send_message(&as2::client().expect("client"), outbound, message).await
}

#[tokio::test]
async fn every_layering_is_delivered_and_its_signed_mdn_verifies() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.acme, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let mut outbound = s.outbound(&server.url);
    let variations = [
        (MicAlg::Sha256, Cipher::Aes256Cbc),
        (MicAlg::Sha1, Cipher::TripleDesCbc),
        (MicAlg::Sha384, Cipher::Aes128Cbc),
        (MicAlg::Sha512, Cipher::Aes192Cbc),
    ];
    let mut delivered = 0;
    for layers in 0..8u8 {
        (outbound.sign, outbound.encrypt, outbound.compress) = (layers & 1 != 0, layers & 2 != 0, layers & 4 != 0);
        (outbound.digest, outbound.cipher) = variations[usize::from(layers) % variations.len()];
        let name = format!("sign {} encrypt {} compress {}", outbound.sign, outbound.encrypt, outbound.compress);
        let sent = send(&outbound, &message(&format!("po-{layers}.edi"))).await.expect(&name);
        let mdn = sent.mdn.clone().expect("synchronous MDN");
        assert!(mdn.processed && mdn.mic_matched && mdn.signed, "{name}: {mdn:?}");
        assert_eq!(mdn.disposition, "automatic-action/MDN-sent-automatically; processed", "{name}");
        assert_eq!(mdn.detail, None, "{name}");
        delivered += 1;
        let deliveries = gateway.deliveries();
        assert_eq!(deliveries.len(), delivered, "{name}");
        let delivery = &deliveries[delivered - 1];
        assert_eq!(delivery.payload.to_vec(usize::MAX).expect("payload"), PAYLOAD, "{name}: payload altered");
        assert_eq!(delivery.filename.as_deref(), Some(format!("po-{layers}.edi").as_str()), "{name}");
        assert_eq!((delivery.from.as_str(), delivery.to.as_str()), (ACME, US), "{name}");
        assert_eq!(delivery.message_id, sent.message_id, "{name}");
        assert_eq!(delivery.mic, sent.mic, "{name}: the receiver's MIC is ours");
        assert_eq!(
            (delivery.signed, delivery.encrypted, delivery.compressed),
            (outbound.sign, outbound.encrypt, outbound.compress),
            "{name}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn unsigned_and_absent_receipts() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.acme, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let mut outbound = s.outbound(&server.url);
    outbound.mdn = MdnRequest::Sync { signed: false };
    let sent = send(&outbound, &message("a.edi")).await.expect("sent");
    let mdn = sent.mdn.expect("MDN");
    assert_eq!((mdn.processed, mdn.mic_matched, mdn.signed), (true, true, false));
    outbound.mdn = MdnRequest::None;
    let sent = send(&outbound, &message("b.edi")).await.expect("sent");
    assert_eq!(sent.mdn, None);
    // A plain message whose MIC the receiver computes in its default (SHA-256), not
    // ours: processed, but the MIC is not confirmed.
    (outbound.sign, outbound.encrypt, outbound.digest) = (false, false, MicAlg::Sha1);
    outbound.mdn = MdnRequest::Sync { signed: false };
    let sent = send(&outbound, &message("c.edi")).await.expect("sent");
    let mdn = sent.mdn.expect("MDN");
    assert_eq!((mdn.processed, mdn.mic_matched), (true, false));
    assert_eq!(gateway.deliveries().len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn a_retry_with_the_same_message_id_is_acknowledged_and_delivered_once() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.acme, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let outbound = s.outbound(&server.url);
    let mut retried = message("r.edi");
    retried.message_id = Some("<retry-1@acme.example>".into());
    for _ in 0..2 {
        let sent = send(&outbound, &retried).await.expect("sent");
        assert_eq!(sent.message_id, "retry-1@acme.example");
        assert!(sent.mdn.is_some_and(|mdn| mdn.processed && mdn.mic_matched));
    }
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_receiver_that_knows_another_certificate_answers_authentication_failed() {
    let s = setup();
    let mut other = partnership(&s.acme, &s.us);
    other.partner_cert_pem = identity(s._dir.path(), "someone-else").cert_pem;
    let gateway = FakeGateway::with(other);
    let server = start(gateway.clone(), As2Config::default()).await;
    let error = send(&s.outbound(&server.url), &message("x.edi")).await.expect_err("refused");
    assert!(!error.transient, "{error:?}");
    assert_eq!(error.status, Some(200));
    let mdn = error.mdn.expect("the MDN");
    assert_eq!((mdn.processed, mdn.signed, mdn.detail.as_deref()), (false, true, Some("authentication-failed")));
    assert!(error.reason.contains("processed/error: authentication-failed"), "{}", error.reason);
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn an_mdn_signed_by_another_key_is_refused() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.acme, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let mut outbound = s.outbound(&server.url);
    // We expect the receiver's MDNs to be signed by a certificate it does not have;
    // it cannot decrypt either, so encrypt no more.
    outbound.partner_cert_pem = identity(s._dir.path(), "not-the-receiver").cert_pem;
    outbound.encrypt = false;
    let error = send(&outbound, &message("x.edi")).await.expect_err("refused");
    assert!(!error.transient && error.reason.contains("MDN signature not accepted"), "{error:?}");
    assert_eq!(gateway.deliveries().len(), 1, "delivered, but the receipt proves nothing");
    server.stop().await;
}

#[tokio::test]
async fn transient_and_permanent_http_failures() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.acme, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let outbound = s.outbound(&server.url);
    gateway.set_unavailable(true);
    let error = send(&outbound, &message("x.edi")).await.expect_err("503");
    assert_eq!((error.transient, error.status), (true, Some(503)), "{error:?}");
    gateway.set_unavailable(false);
    let wrong_path = s.outbound(&server.url.replace("/as2", "/other"));
    let error = send(&wrong_path, &message("x.edi")).await.expect_err("404");
    assert_eq!((error.transient, error.status), (false, Some(404)), "{error:?}");
    server.stop().await;
    // Nobody listens any more.
    let error = send(&outbound, &message("x.edi")).await.expect_err("no server");
    assert_eq!((error.transient, error.status), (true, None), "{error:?}");
    let mut ftp = outbound.clone();
    ftp.url = "ftp://127.0.0.1/as2".into();
    assert!(!send(&ftp, &message("x.edi")).await.expect_err("not http").transient);
    let mut broken = outbound;
    broken.our_key_pem = "not a key".into();
    let error = send(&broken, &message("x.edi")).await.expect_err("no key");
    assert!(!error.transient && error.reason.contains("keys unusable"), "{error:?}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let app = axum::Router::new().route(
        "/as2",
        axum::routing::post(|| async { (axum::http::StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/as2", listener.local_addr().expect("addr"));
    let endpoint = tokio::spawn(async move { axum::serve(listener, app).await });
    let s = setup();
    let error = send(&s.outbound(&url), &message("x.edi")).await.expect_err("redirect");
    assert_eq!((error.transient, error.status), (false, Some(307)), "{error:?}");
    // A client that follows redirects is caught too.
    let following = reqwest::Client::new();
    let error = as2::send_message(&following, &s.outbound(&url), &message("x.edi")).await.expect_err("redirect");
    assert!(!error.transient, "{error:?}");
    endpoint.abort();
}

#[tokio::test]
async fn an_asynchronous_mdn_is_verified_when_it_arrives() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.acme, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let mut endpoint = MdnEndpoint::start().await;
    let mut outbound = s.outbound(&server.url);
    outbound.compress = true;
    outbound.mdn = MdnRequest::Async { url: endpoint.url.clone(), signed: true };
    let sent = send(&outbound, &message("async.edi")).await.expect("sent");
    assert_eq!(sent.mdn, None);
    let (headers, body) = endpoint.next().await;
    let mdn = as2::verify_async_mdn(&outbound, &headers, &body, &sent).expect("verified");
    assert!(mdn.processed && mdn.mic_matched && mdn.signed, "{mdn:?}");
    let other = Sent { message_id: "other@acme".into(), ..sent.clone() };
    let error = as2::verify_async_mdn(&outbound, &headers, &body, &other).expect_err("another message");
    assert!(!error.transient && error.reason.contains("another message"), "{error:?}");
    let mut tampered = body.to_vec();
    let at = tampered.windows(9).position(|w| w == b"processed").expect("disposition");
    tampered[at] = b'P';
    let error = as2::verify_async_mdn(&outbound, &headers, &tampered, &sent).expect_err("tampered");
    assert!(error.reason.contains("signature"), "{error:?}");
    assert_eq!(gateway.deliveries()[0].payload.to_vec(usize::MAX).expect("payload"), PAYLOAD);
    server.stop().await;
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_the_same_message_id_until_the_partner_takes_it() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.acme, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let outbound = s.outbound(&server.url);
    gateway.set_unavailable(true);
    let retry = as2::Retry {
        attempts: 20,
        first_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(100),
    };
    let client = as2::client().expect("client");
    let retried = message("retried.edi");
    let sending = tokio::spawn(async move { as2::send_with_retry(&client, &outbound, &retried, retry).await });
    // The partner's spool is full for a while (503), then has room again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while gateway.refusals() < 2 {
        assert!(std::time::Instant::now() < deadline, "the sender did not retry");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    gateway.set_unavailable(false);
    let sent = sending.await.expect("task").expect("delivered after the retries");
    let mdn = sent.mdn.expect("a synchronous MDN");
    assert!(mdn.processed && mdn.mic_matched, "{mdn:?}");
    let delivered = gateway.deliveries();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].message_id, sent.message_id, "one Message-ID for every attempt");
    let retry = as2::Retry { attempts: 3, ..retry };
    let wrong_path = s.outbound(&server.url.replace("/as2", "/other"));
    let client = as2::client().expect("client");
    let error = as2::send_with_retry(&client, &wrong_path, &message("x.edi"), retry).await.expect_err("404");
    assert_eq!(error.status, Some(404), "a permanent failure ends at once");
    server.stop().await;
}
