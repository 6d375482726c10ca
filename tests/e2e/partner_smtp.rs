//! Partners deliver mail with Python's smtplib (plain, several recipients,
//! STARTTLS + AUTH, a message above streaming_size) and swaks (an attachment,
//! PIPELINING): each message lands once as `<id>.eml`, byte-identical to what was
//! sent after dot-unstuffing, with its mail envelope in the journal; a profile with
//! `mail = "attachments"` delivers the attachment itself. Refusals are
//! SMTP's own: 550 unknown recipient, 530 without AUTH, 452 for a recipient of
//! another channel (the client sends it in its own transaction).

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::Digest;

use crate::support::clients::PASSWORD;
use crate::support::mail::{attachments, message, smtp_records, smtplib_send, swaks};
use crate::support::{Cluster, ClusterOptions, payload};

fn options() -> ClusterOptions {
    ClusterOptions {
        channels: vec!["demo".into(), "other".into(), "secure".into()],
        smtp_auth_required: vec!["secure".into()],
        ..ClusterOptions::default()
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, bytes).expect("write message");
    file
}

/// The journal record of the mail whose Message-ID is `<seed@partner.test>`.
fn record_of(records: &[Value], seed: u64) -> &Value {
    let id = format!("<{seed}@partner.test>");
    let found: Vec<&Value> = records.iter().filter(|r| r["mail"]["message_id"] == id.as_str()).collect();
    assert_eq!(found.len(), 1, "mail {id} delivered exactly once: {records:#?}");
    found[0]
}

fn delivered_bytes(record: &Value) -> Vec<u8> {
    std::fs::read(record["target"].as_str().expect("target")).expect("delivered .eml")
}

fn count_eml(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count()
    })
}

#[tokio::test]
async fn smtplib_delivers_plain_and_authenticated_mail_byte_identical() {
    let cluster = Cluster::start(options()).await;
    let local = tempfile::tempdir().expect("tempdir");
    // Above the cluster's streaming_size (64 KiB): travels by reference.
    let big = write(local.path(), "big.eml", &message(1, 200_000));
    let sent = smtplib_send(&cluster, &["demo@dmz.test", "DEMO-2@dmz.test"], &[], &big);
    assert_eq!(sent["ok"], true, "{sent}\n{}", cluster.logs());

    let secure = write(local.path(), "secure.eml", &message(2, 3_000));
    let refused = smtplib_send(&cluster, &["secure@dmz.test"], &[], &secure);
    assert_eq!(refused["refused"]["secure@dmz.test"][0], 530, "AUTH required: {refused}");
    let auth = ["--starttls", "--user", "secure-user", "--password", PASSWORD];
    let sent = smtplib_send(&cluster, &["secure@dmz.test"], &auth, &secure);
    assert_eq!(sent["ok"], true, "{sent}\n{}", cluster.logs());

    let unknown = smtplib_send(&cluster, &["nobody@dmz.test"], &[], &secure);
    assert_eq!(unknown["refused"]["nobody@dmz.test"][0], 550, "{unknown}");

    let mixed = write(local.path(), "mixed.eml", &message(3, 500));
    let sent = smtplib_send(&cluster, &["demo@dmz.test", "other@dmz.test"], &[], &mixed);
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(sent["refused"]["other@dmz.test"][0], 452, "another channel's recipient is deferred: {sent}");

    let records = smtp_records(&cluster, 3).await;
    let first = record_of(&records, 1);
    assert_eq!(delivered_bytes(first), message(1, 200_000));
    assert_eq!(first["channel"], "demo");
    assert_eq!(first["mail"]["from"], "sender@partner.test");
    assert_eq!(first["mail"]["recipients"], serde_json::json!(["demo@dmz.test", "DEMO-2@dmz.test"]));
    assert_eq!(first["mail"]["helo"], "partner.test");
    assert_eq!(first["mail"]["tls"], false);
    let second = record_of(&records, 2);
    assert_eq!(delivered_bytes(second), message(2, 3_000));
    assert_eq!((&second["channel"], &second["partner_login"]), (&"secure".into(), &"secure-user".into()));
    assert_eq!(second["mail"]["tls"], true);
    assert_eq!(delivered_bytes(record_of(&records, 3)), message(3, 500));
    cluster.wait_for_dmz_drained().await;
    assert_eq!(count_eml(&cluster.inbox().join("demo")), 2, "each message once");
    assert_eq!(count_eml(&cluster.inbox().join("secure")), 1);
    assert_eq!(count_eml(&cluster.inbox().join("other")), 0);
}

#[tokio::test]
async fn swaks_delivers_an_attachment_with_pipelining_as_a_mail_or_unpacked() {
    let profiles = "[[profiles]]\nname = \"unpack\"\nchannel = \"unpack\"\nmail = \"attachments\"\n".to_owned();
    let options = ClusterOptions { channels: vec!["demo".into(), "unpack".into()], profiles, ..Default::default() };
    let cluster = Cluster::start(options).await;
    let local = tempfile::tempdir().expect("tempdir");
    let bytes = payload(7, 300_000);
    let file = write(local.path(), "invoice.pdf", &bytes);
    let attach = format!("@{}", file.display());
    for to in ["demo@dmz.test,demo-2@dmz.test", "unpack@dmz.test"] {
        let output = swaks(&cluster, &["--from", "a@partner.test", "--to", to, "--pipeline", "--attach", &attach]);
        let transcript = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "swaks failed:\n{transcript}\n{}", cluster.logs());
        let (data_sent, mail_answered) = (transcript.find(" -> DATA"), transcript.find("<-  250 2.1.0"));
        assert!(data_sent.is_some() && data_sent < mail_answered, "MAIL..DATA went as one batch: {transcript}");
        assert!(transcript.contains("<-  250 2.0.0 OK queued as"), "{transcript}");
    }
    let records = smtp_records(&cluster, 2).await;
    let of = |channel: &str| records.iter().find(|r| r["channel"] == channel).expect("record of channel");
    let (mail, unpacked) = (of("demo"), of("unpack"));
    let digest = hex(&sha2::Sha256::digest(&bytes));
    let found = attachments(Path::new(mail["target"].as_str().expect("target")));
    assert_eq!(found, vec![("invoice.pdf".to_owned(), digest)], "the attachment arrived intact in the .eml");
    assert_eq!(mail["mail"]["recipients"], serde_json::json!(["demo@dmz.test", "demo-2@dmz.test"]));
    let dir = PathBuf::from(unpacked["target"].as_str().expect("target"));
    assert_eq!(std::fs::read(dir.join("invoice.pdf")).expect("unpacked attachment"), bytes);
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1, "only the attachment");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
