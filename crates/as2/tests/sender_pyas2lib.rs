//! Interop of the AS2 sender with pyas2lib as the receiver: `pyas2lib_peer.py serve`
//! parses what we send with pyas2lib's `Message().parse` (decrypt, verify,
//! decompress), stores the payload and answers with pyas2lib's signed MDN, which our
//! sender verifies (signature, Message-ID, disposition, MIC).
//!
//! Needs the virtualenv of `tests/run` (pyas2lib, patched oscrypto), or
//! `PORTCULLIS_TEST_PYTHON`.

mod common;

use as2::{As2Outbound, Cipher, MicAlg, OutboundMessage};
use common::{ACME, Identity, Pyas2libReceiver, identity, outbound};

/// CRLF, a bare LF, NUL and high bytes: any re-encoding shows.
const PAYLOAD: &[u8] =
    b"ISA*00*          *00*          *ZZ*PORTCULLIS     *ZZ*ACME           ~\r\nGS*PO\nbin\x00\xff\xfe\r\n";
/// Our AS2 name towards pyas2lib (quoted in the headers).
const US: &str = "Portcullis Gateway";

struct Setup {
    dir: tempfile::TempDir,
    us: Identity,
    acme: Identity,
    receiver: Pyas2libReceiver,
}

/// pyas2lib receives as [`ACME`] from [`US`], verifying with our certificate.
fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let us = identity(dir.path(), "us");
    let acme = identity(dir.path(), "acme");
    let inbox = dir.path().join("inbox");
    let receiver = Pyas2libReceiver::start(&inbox, ACME, &acme.key_file, US, &us.cert_file);
    Setup { dir, us, acme, receiver }
}

impl Setup {
    fn outbound(&self) -> As2Outbound {
        outbound(US, &self.us, ACME, &self.acme, &self.receiver.url)
    }
}

#[tokio::test]
async fn pyas2lib_receives_what_we_send_and_its_mdns_verify() {
    let s = setup();
    let client = as2::client().expect("client");
    // (name, sign, encrypt, compress, digest, cipher)
    let variations = [
        ("signed-encrypted", true, true, false, MicAlg::Sha256, Cipher::Aes256Cbc),
        ("signed-encrypted-compressed", true, true, true, MicAlg::Sha256, Cipher::Aes256Cbc),
        ("signed", true, false, false, MicAlg::Sha256, Cipher::Aes256Cbc),
        ("signed-compressed", true, false, true, MicAlg::Sha512, Cipher::Aes256Cbc),
        ("3des-sha1", true, true, false, MicAlg::Sha1, Cipher::TripleDesCbc),
        ("aes128-sha384", true, true, true, MicAlg::Sha384, Cipher::Aes128Cbc),
        ("aes192-sha512", true, true, false, MicAlg::Sha512, Cipher::Aes192Cbc),
        ("encrypted", false, true, false, MicAlg::Sha256, Cipher::Aes256Cbc),
        ("encrypted-compressed", false, true, true, MicAlg::Sha256, Cipher::Aes128Cbc),
        ("plain", false, false, false, MicAlg::Sha256, Cipher::Aes256Cbc),
    ];
    for (n, &(name, sign, encrypt, compress, digest, cipher)) in variations.iter().enumerate() {
        let outbound = As2Outbound { sign, encrypt, compress, digest, cipher, ..s.outbound() };
        let message =
            OutboundMessage { filename: Some(format!("{name}.edi")), ..OutboundMessage::new(PAYLOAD.to_vec()) };
        let sent = as2::send_message(&client, &outbound, &message).await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mdn = sent.mdn.clone().expect("synchronous MDN");
        assert!(mdn.processed && mdn.signed, "{name}: {mdn:?}");
        assert_eq!(mdn.disposition, "automatic-action/MDN-sent-automatically; processed", "{name}");
        // pyas2lib returns a MIC for signed messages only.
        assert_eq!(mdn.mic_matched, sign, "{name}: {mdn:?}");
        let (record, payload) = s.receiver.received(n + 1);
        assert_eq!(record["status"], "processed", "{name}: {record}");
        assert_eq!(payload.as_deref(), Some(PAYLOAD), "{name}: payload altered");
        assert_eq!(record["message_id"], sent.message_id.as_str(), "{name}");
        assert_eq!(record["filename"], format!("{name}.edi").as_str(), "{name}");
        assert_eq!(
            (record["signed"].as_bool(), record["encrypted"].as_bool(), record["compressed"].as_bool()),
            (Some(sign), Some(encrypt), Some(compress)),
            "{name}: {record}"
        );
    }
}

#[tokio::test]
async fn a_message_signed_with_the_wrong_key_gets_pyas2libs_error_mdn() {
    let s = setup();
    let impostor = identity(s.dir.path(), "impostor");
    let outbound =
        As2Outbound { our_cert_pem: impostor.cert_pem.clone(), our_key_pem: impostor.key_pem.clone(), ..s.outbound() };
    let message = OutboundMessage::new(PAYLOAD.to_vec());
    let error = as2::send_message(&as2::client().expect("client"), &outbound, &message).await.expect_err("refused");
    assert!(!error.transient, "{error:?}");
    assert_eq!(error.status, Some(200));
    let mdn = error.mdn.expect("pyas2lib's MDN");
    assert_eq!((mdn.processed, mdn.signed, mdn.detail.as_deref()), (false, true, Some("authentication-failed")));
    let (record, payload) = s.receiver.received(1);
    assert_eq!((record["status"].as_str(), payload), (Some("processed/Error"), None), "{record}");
}

#[tokio::test]
async fn an_mdn_that_pyas2lib_signed_is_refused_when_we_expect_another_signer() {
    let s = setup();
    let stranger = identity(s.dir.path(), "stranger");
    // Signed only: pyas2lib must still read it; only its MDN's signer is unexpected.
    let outbound = As2Outbound { partner_cert_pem: stranger.cert_pem.clone(), encrypt: false, ..s.outbound() };
    let message = OutboundMessage::new(PAYLOAD.to_vec());
    let error = as2::send_message(&as2::client().expect("client"), &outbound, &message).await.expect_err("refused");
    assert!(!error.transient && error.reason.contains("MDN signature not accepted"), "{error:?}");
    assert_eq!(s.receiver.received(1).1.as_deref(), Some(PAYLOAD));
}
