//! Interop with pyas2lib, a real AS2 implementation: it builds the messages (with
//! keys this test made), the real `serve()` receives them, and pyas2lib parses and
//! verifies our MDNs, MIC included.
//!
//! Needs the virtualenv of `tests/run` (pyas2lib, patched oscrypto), or
//! `PORTCULLIS_TEST_PYTHON`.

mod common;

use std::path::Path;

use as2::As2Config;
use common::{
    ACME, Built, FakeGateway, Identity, MdnEndpoint, US, build, identity, parse_mdn, partnership, post, start,
};
use serde_json::Value;

/// A payload with CRLF, a bare LF, NUL and high bytes: any re-encoding shows.
const PAYLOAD: &[u8] =
    b"ISA*00*          *00*          *ZZ*ACME           *ZZ*PORTCULLIS     ~\r\nGS*PO\nbin\x00\xff\xfe\r\n";

struct Setup {
    dir: tempfile::TempDir,
    partner: Identity,
    us: Identity,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let partner = identity(dir.path(), "partner");
    let us = identity(dir.path(), "us");
    Setup { dir, partner, us }
}

impl Setup {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Builds with pyas2lib as [`ACME`] to [`US`], signing with the partner key and
    /// encrypting for our certificate, plus `extra` options.
    fn build(&self, name: &str, payload: &[u8], extra: &[&str]) -> Built {
        let mut args = vec![
            "--sender",
            ACME,
            "--sign-key",
            self.partner.key_file.to_str().expect("utf8"),
            "--encrypt-cert",
            self.us.cert_file.to_str().expect("utf8"),
        ];
        if !extra.contains(&"--receiver") {
            args.extend_from_slice(&["--receiver", US]);
        }
        args.extend_from_slice(extra);
        build(self.path(), name, payload, &args)
    }

    fn verdict(&self, built: &Built, mdn: &[u8], accept_unsigned: bool) -> Value {
        parse_mdn(self.path(), built, mdn, &self.us.cert_file, accept_unsigned)
    }
}

#[tokio::test]
async fn pyas2lib_variations_are_delivered_and_our_mdns_verify() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    // (name, build options, signed, encrypted, compressed)
    let variations: &[(&str, &[&str], bool, bool, bool)] = &[
        ("signed-encrypted", &["--sign", "--encrypt", "--filename", "order.edi"], true, true, false),
        ("signed", &["--sign"], true, false, false),
        ("encrypted", &["--encrypt"], false, true, false),
        ("plain", &[], false, false, false),
        ("compressed-signed-encrypted", &["--compress", "--sign", "--encrypt"], true, true, true),
        ("compressed", &["--compress"], false, false, true),
        (
            "3des-sha1",
            &[
                "--sign",
                "--encrypt",
                "--enc-alg",
                "tripledes_192_cbc",
                "--digest-alg",
                "sha1",
                "--mdn-digest-alg",
                "sha1",
            ],
            true,
            true,
            false,
        ),
        (
            "aes128-sha384",
            &[
                "--sign",
                "--encrypt",
                "--enc-alg",
                "aes_128_cbc",
                "--digest-alg",
                "sha384",
                "--mdn-digest-alg",
                "sha384",
            ],
            true,
            true,
            false,
        ),
        (
            "aes192-sha512",
            &[
                "--sign",
                "--encrypt",
                "--enc-alg",
                "aes_192_cbc",
                "--digest-alg",
                "sha512",
                "--mdn-digest-alg",
                "sha512",
            ],
            true,
            true,
            false,
        ),
        ("rsa-oaep", &["--sign", "--encrypt", "--key-enc-alg", "rsaes_oaep"], true, true, false),
        ("unsigned-mdn", &["--sign", "--encrypt", "--mdn-digest-alg", "none"], true, true, false),
    ];
    for (i, &(name, options, signed, encrypted, compressed)) in variations.iter().enumerate() {
        let built = s.build(name, PAYLOAD, options);
        let answer = post(&server.url, &built.headers, built.body.clone()).await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text());
        assert_eq!(answer.header("as2-from"), Some(US), "{name}");
        assert_eq!(answer.header("as2-to"), Some("\"Acme EU\""), "{name}");
        assert_eq!(answer.header("as2-version"), Some("1.2"), "{name}");
        let verdict = s.verdict(&built, &answer.raw(), false);
        assert_eq!(verdict["status"], "processed", "{name}: {verdict}");
        assert_eq!(verdict["original_message_id"], built.message_id.as_str(), "{name}");
        if signed {
            assert_eq!(verdict["mic_matched"], true, "{name}: {verdict}");
        } else {
            assert!(verdict["mic_returned"].is_string(), "{name}: {verdict}");
        }
        let deliveries = gateway.deliveries();
        assert_eq!(deliveries.len(), i + 1, "{name}");
        let delivery = &deliveries[i];
        assert_eq!(delivery.payload.to_vec(usize::MAX).expect("payload"), PAYLOAD, "{name}: payload altered");
        assert_eq!(
            (delivery.signed, delivery.encrypted, delivery.compressed),
            (signed, encrypted, compressed),
            "{name}"
        );
        assert_eq!((delivery.from.as_str(), delivery.to.as_str()), (ACME, US), "{name}");
        assert_eq!(delivery.message_id, built.message_id, "{name}");
        assert_eq!(delivery.channel, "acme");
        if signed {
            let mic = verdict["mic_sent"].as_str().expect("mic");
            assert!(delivery.mic.starts_with(&format!("{mic}, ")), "{name}: {} vs {mic}", delivery.mic);
        }
    }
    assert_eq!(gateway.deliveries()[0].filename.as_deref(), Some("order.edi"));
    server.stop().await;
}

#[tokio::test]
async fn text_content_types_survive_pyas2lib_canonicalization() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    // pyas2lib turns LF into CRLF for non-binary types: a CRLF payload stays as is.
    let payload = b"UNA:+.? '\r\nUNB+UNOC:3+ACME+PORTCULLIS'\r\n";
    let built = s.build("edifact", payload, &["--sign", "--encrypt", "--content-type", "application/edifact"]);
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    let verdict = s.verdict(&built, &answer.raw(), false);
    assert_eq!(
        (verdict["status"].as_str(), verdict["mic_matched"].as_bool()),
        (Some("processed"), Some(true)),
        "{verdict}"
    );
    assert_eq!(gateway.deliveries()[0].payload.to_vec(usize::MAX).expect("payload"), payload);
    server.stop().await;
}

#[tokio::test]
async fn tampered_content_is_refused_with_authentication_failed() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let built = s.build("tampered", PAYLOAD, &["--sign"]);
    let mut body = built.body.clone();
    let at = body.windows(4).position(|w| w == b"ISA*").expect("payload in the signed body");
    body[at] = b'J';
    let answer = post(&server.url, &built.headers, body).await;
    assert_eq!(answer.status, 200);
    let verdict = s.verdict(&built, &answer.raw(), false);
    assert_eq!(verdict["status"], "processed/error", "{verdict}");
    assert_eq!(verdict["detail"], "authentication-failed", "{verdict}");
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let impostor = identity(s.path(), "impostor");
    let built =
        s.build("impostor", PAYLOAD, &["--sign", "--encrypt", "--sign-key", impostor.key_file.to_str().expect("utf8")]);
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    let verdict = s.verdict(&built, &answer.raw(), false);
    assert_eq!(
        (verdict["status"].as_str(), verdict["detail"].as_str()),
        (Some("processed/error"), Some("authentication-failed"))
    );
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

/// pyas2lib writes RSASSA-PSS signatures with an AlgorithmIdentifier without
/// parameters, which means SHA-1 / MGF1-SHA-1 / salt 20 (RFC 4055 §3.1), while it
/// signs with its digest algorithm (SHA-256 here): a standard verifier must refuse
/// them (pyas2lib only accepts them because its own verifier ignores the parameters).
#[tokio::test]
async fn pyas2lib_rsassa_pss_signatures_without_parameters_are_refused() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let built = s.build("rsa-pss", PAYLOAD, &["--sign", "--encrypt", "--sign-alg", "rsassa_pss"]);
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    let verdict = s.verdict(&built, &answer.raw(), false);
    assert_eq!(
        (verdict["status"].as_str(), verdict["detail"].as_str()),
        (Some("processed/error"), Some("authentication-failed"))
    );
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_message_for_another_certificate_is_a_decryption_failure() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let stranger = identity(s.path(), "stranger");
    let built = s.build(
        "wrong-cert",
        PAYLOAD,
        &["--sign", "--encrypt", "--encrypt-cert", stranger.cert_file.to_str().expect("utf8")],
    );
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    let verdict = s.verdict(&built, &answer.raw(), false);
    assert_eq!(
        (verdict["status"].as_str(), verdict["detail"].as_str()),
        (Some("processed/error"), Some("decryption-failed"))
    );
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_recipient_gets_unknown_trading_partner() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let built = s.build("unknown", PAYLOAD, &["--sign", "--encrypt", "--receiver", "NOBODY"]);
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("as2-from"), Some("NOBODY"));
    // We hold no key for an unknown partnership: the MDN cannot be signed.
    assert!(answer.header("content-type").is_some_and(|ct| ct.starts_with("multipart/report")));
    let verdict = s.verdict(&built, &answer.raw(), true);
    assert_eq!(
        (verdict["status"].as_str(), verdict["detail"].as_str()),
        (Some("processed/error"), Some("unknown-trading-partner"))
    );
    assert_eq!(verdict["original_recipient"], "NOBODY");
    assert!(gateway.deliveries().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_duplicate_message_id_is_delivered_once_and_acknowledged_twice() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let built = s.build("duplicate", PAYLOAD, &["--sign", "--encrypt"]);
    for attempt in 0..2 {
        let answer = post(&server.url, &built.headers, built.body.clone()).await;
        let verdict = s.verdict(&built, &answer.raw(), false);
        assert_eq!(verdict["status"], "processed", "attempt {attempt}: {verdict}");
        assert_eq!(verdict["mic_matched"], true, "attempt {attempt}: {verdict}");
    }
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn required_encryption_refuses_a_signed_only_message() {
    let s = setup();
    let mut strict = partnership(&s.partner, &s.us);
    strict.require_encrypted = true;
    strict.require_signed = true;
    let gateway = FakeGateway::with(strict);
    let server = start(gateway.clone(), As2Config::default()).await;
    let built = s.build("signed-only", PAYLOAD, &["--sign"]);
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    let verdict = s.verdict(&built, &answer.raw(), false);
    assert_eq!(
        (verdict["status"].as_str(), verdict["detail"].as_str()),
        (Some("processed/error"), Some("insufficient-message-security"))
    );
    let built = s.build("both", PAYLOAD, &["--sign", "--encrypt", "--compress"]);
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    assert_eq!(s.verdict(&built, &answer.raw(), false)["status"], "processed");
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn an_asynchronous_mdn_is_posted_to_the_partner() {
    let s = setup();
    let gateway = FakeGateway::with(partnership(&s.partner, &s.us));
    let server = start(gateway.clone(), As2Config::default()).await;
    let mut endpoint = MdnEndpoint::start().await;
    let built = s.build("async", PAYLOAD, &["--sign", "--encrypt", "--mdn-mode", "ASYNC", "--mdn-url", &endpoint.url]);
    let answer = post(&server.url, &built.headers, built.body.clone()).await;
    assert_eq!((answer.status, answer.body.len()), (200, 0), "{}", answer.text());
    let (headers, body) = endpoint.next().await;
    let mut raw = Vec::new();
    for (name, value) in &headers {
        raw.extend_from_slice(format!("{name}: {}\r\n", value.to_str().expect("ascii")).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&body);
    assert_eq!(headers.get("as2-to").map(|v| v.as_bytes()), Some(&b"\"Acme EU\""[..]));
    let verdict = s.verdict(&built, &raw, false);
    assert_eq!(
        (verdict["status"].as_str(), verdict["mic_matched"].as_bool()),
        (Some("processed"), Some(true)),
        "{verdict}"
    );
    assert_eq!(gateway.deliveries().len(), 1);
    server.stop().await;
}
