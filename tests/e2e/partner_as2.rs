//! A partner sends AS2 built by pyas2lib (signed + encrypted, and compressed) to the
//! real DMZ: the payload lands byte-identical in the inbox, exactly once even when
//! the partner retries the same Message-ID; the synchronous MDN is one pyas2lib
//! accepts, with a matching MIC. A tampered message and an unknown AS2-To get the
//! standard error dispositions and deliver nothing. Our private key, pushed by the
//! inner, is never written to the DMZ's disk, and no scratch file of a message
//! taken apart is left there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::as2::{build, channel_table, keys, post, verdict};
use crate::support::{Cluster, ClusterOptions, delivered_records, payload, wait_for};

const PARTNER: &str = "ACME-EDI";
const US: &str = "PORTCULLIS-TEST";

#[tokio::test]
async fn pyas2lib_messages_are_delivered_once_with_mdns_it_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keys(dir.path());
    let (partner_pem, our_cert, our_key) = (keys.partner_pem.clone(), keys.our_cert.clone(), keys.our_key.clone());
    let as2 = channel_table(&keys, PARTNER, US);
    let cluster = Cluster::start(ClusterOptions { as2: Some(as2), ..ClusterOptions::default() }).await;
    let url = format!("http://127.0.0.1:{}/as2", cluster.ports.as2);
    let work = tempfile::tempdir().expect("tempdir");
    let (sign, encrypt) = (partner_pem.to_str().expect("utf-8"), our_cert.to_str().expect("utf-8"));
    let common =
        ["--sender", PARTNER, "--receiver", US, "--sign-key", sign, "--encrypt-cert", encrypt, "--sign", "--encrypt"];

    // Signed + encrypted, sent twice (a partner's retry): one delivery, two good MDNs.
    // Larger than the DMZ's in-memory chunk, so it is staged in the spool as a file.
    let invoice = payload(41, 2_500_000);
    let built = build(work.path(), "invoice", &invoice, &[&common[..], &["--filename", "invoice.edi"]].concat());
    for attempt in 0..2 {
        let (status, mdn) = post(&cluster.client, &url, &built.headers, built.body.clone()).await;
        assert_eq!(status, 200, "attempt {attempt}: {}\n{}", String::from_utf8_lossy(&mdn), cluster.logs());
        let verdict = verdict(work.path(), &built, &mdn, &our_cert);
        assert_eq!(verdict["status"], "processed", "attempt {attempt}: {verdict}");
        assert_eq!(verdict["mic_matched"], true, "attempt {attempt}: {verdict}");
    }
    // Compressed inside signed + encrypted.
    let orders = payload(42, 300_000);
    let built =
        build(work.path(), "orders", &orders, &[&common[..], &["--compress", "--filename", "orders.edi"]].concat());
    let (_, mdn) = post(&cluster.client, &url, &built.headers, built.body.clone()).await;
    assert_eq!(verdict(work.path(), &built, &mdn, &our_cert)["status"], "processed");

    let inbox = cluster.inbox().join("demo");
    for (name, bytes) in [("invoice.edi", &invoice), ("orders.edi", &orders)] {
        let file = inbox.join(name);
        let got = wait_for(name, Duration::from_secs(30), || async { std::fs::read(&file).ok() }).await;
        assert!(&got == bytes, "{name} arrived changed: {} bytes, sent {}", got.len(), bytes.len());
    }
    cluster.wait_for_dmz_drained().await;
    let records = delivered_records(&cluster.client, &cluster.inner_admin).await.expect("journal");
    let invoice_records = &records[&("demo".to_string(), "invoice.edi".to_string())];
    assert_eq!(invoice_records.len(), 1, "the retried message was delivered once: {invoice_records:?}");
    assert_eq!(invoice_records[0]["protocol"], "as2");
    assert_eq!(invoice_records[0]["partner_login"], PARTNER);
    assert_eq!(std::fs::read_dir(&inbox).expect("inbox").count(), 2, "nothing else arrived");

    // Tampered ciphertext and an unknown AS2-To: error dispositions, nothing delivered.
    let bad = build(work.path(), "bad", &payload(43, 1000), &[&common[..], &["--filename", "bad.edi"]].concat());
    let mut tampered = bad.body.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x55;
    let (_, mdn) = post(&cluster.client, &url, &bad.headers, tampered).await;
    let text = String::from_utf8_lossy(&mdn).to_lowercase();
    assert!(text.contains("processed/error"), "tampered: {text}");
    let unknown: Vec<(String, String)> = bad
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), if n.eq_ignore_ascii_case("as2-to") { "NOBODY".into() } else { v.clone() }))
        .collect();
    let (_, mdn) = post(&cluster.client, &url, &unknown, bad.body.clone()).await;
    assert!(String::from_utf8_lossy(&mdn).to_lowercase().contains("unknown-trading-partner"), "unknown AS2-To");
    cluster.wait_for_dmz_drained().await;
    assert!(!inbox.join("bad.edi").exists(), "a refused message must not be delivered");

    // Messages are taken apart in unnamed scratch files: nothing is left behind.
    let scratch: Vec<_> = std::fs::read_dir(cluster.dmz_data().join("as2-scratch")).expect("scratch dir").collect();
    assert!(scratch.is_empty(), "AS2 scratch files left on the DMZ: {scratch:?}");

    // Our private key reached the DMZ only in memory.
    let key_text = std::fs::read_to_string(&our_key).expect("our key");
    let marker = key_text.lines().nth(1).expect("a line of key material").to_owned();
    let on_disk = files_containing(&cluster.dmz_data(), marker.as_bytes());
    assert!(on_disk.is_empty(), "the DMZ wrote our AS2 private key to disk: {on_disk:?}");
}

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(path);
        }
    }
    found
}
