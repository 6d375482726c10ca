//! Send by SMTP to a real aiosmtpd sink (`crates/smtp/tests/py/sink.py`, from the
//! virtualenv `tests/run` makes): an attachment arrives byte-identical, a `.eml`
//! is the message itself, over STARTTLS + AUTH with a pinned certificate too; 4xx
//! is transient, 5xx and a refused certificate permanent.

#![allow(clippy::unwrap_used)]

#[path = "../../remote/tests/common/mod.rs"]
mod common;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::vsftpd::TestCa;
use envelope::{RemoteProtocol, RemoteTarget};
use support::{password, python, send_request, target};

/// A running aiosmtpd sink writing `<n>.eml` into `dir`; killed on drop.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sink(args: &[&str]) -> Sink {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../smtp/tests/py/sink.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg("--dir")
        .arg(dir.path())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with aiosmtpd (run tests/run, which installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok());
    Sink { port: port.unwrap_or_else(|| panic!("the sink did not start: {line:?}")), child, dir }
}

fn received(sink: &Sink, n: usize) -> Vec<u8> {
    let eml = sink.dir.path().join(format!("{n}.eml"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !eml.exists() {
        assert!(Instant::now() < deadline, "message {n} never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read(eml).unwrap()
}

fn mail_target(port: u16) -> RemoteTarget {
    let mut remote = target(RemoteProtocol::Smtp, port, "");
    remote.mail_from = Some("gateway@us.test".into());
    remote.mail_to = vec!["orders@partner.test".into()];
    remote
}

/// The base64 body of the attachment part of `mail`.
fn attachment(mail: &str) -> Vec<u8> {
    let (_, after) = mail.split_once("Content-Disposition: attachment").unwrap();
    let (_, body) = after.split_once("\r\n\r\n").unwrap();
    let (body, _) = body.split_once("\r\n--").unwrap();
    base64::engine::general_purpose::STANDARD.decode(body.replace("\r\n", "")).unwrap()
}

#[tokio::test]
async fn an_attachment_arrives_identical_and_an_eml_as_itself() {
    let sink = sink(&[]);
    let local = tempfile::tempdir().unwrap();
    let bytes = common_payload();
    let (request, path) = send_request(mail_target(sink.port), local.path(), "invoice 7.pdf", &bytes);
    let reply = transfer::send(&request, &password(""), None, &path).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    let mail = String::from_utf8(received(&sink, 1)).unwrap();
    assert!(mail.contains("Subject: invoice 7.pdf\r\n") && mail.contains("filename=\"invoice 7.pdf\""), "{mail}");
    assert!(attachment(&mail) == bytes, "the attachment changed");

    let eml = b"From: a@us.test\nTo: b@partner.test\nSubject: as is\n\n.dot line\nbody\n";
    let (request, path) = send_request(mail_target(sink.port), local.path(), "note.eml", eml);
    transfer::send(&request, &password(""), None, &path).await.unwrap();
    let expected = String::from_utf8_lossy(eml).replace('\n', "\r\n");
    assert_eq!(String::from_utf8(received(&sink, 2)).unwrap(), expected);
}

fn common_payload() -> Vec<u8> {
    (0..300_000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

#[tokio::test]
async fn replies_say_whether_a_retry_may_help() {
    let local = tempfile::tempdir().unwrap();
    for (reply, transient) in [("451 4.3.0 try again later", true), ("554 5.7.1 rejected", false)] {
        let sink = sink(&["--reply", reply]);
        let (request, path) = send_request(mail_target(sink.port), local.path(), "x.csv", b"x");
        let error = transfer::send(&request, &password(""), None, &path).await.unwrap_err();
        assert_eq!(error.transient, transient, "{reply}: {error:?}");
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (request, path) = send_request(mail_target(port), local.path(), "y.csv", b"y");
    assert!(transfer::send(&request, &password(""), None, &path).await.unwrap_err().transient);
    // A pin that is no certificate is final, found before connecting.
    let mut pinned = mail_target(port);
    pinned.tls_cert_pem = Some("-----BEGIN CERTIFICATE-----".into());
    let (request, path) = send_request(pinned, local.path(), "z.csv", b"z");
    assert!(!transfer::send(&request, &password(""), None, &path).await.unwrap_err().transient);
}

#[tokio::test]
async fn starttls_auth_and_a_pinned_ca_deliver_it_identical_and_refuse_another_ca() {
    let ca = TestCa::new("transfer mail CA");
    let (cert_pem, key_pem) = ca.server_certificate();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let sink = sink(&["--cert", cert, "--key", key, "--user", "gateway", "--password", "s3cret"]);
    let local = tempfile::tempdir().unwrap();
    let bytes = common_payload();
    // `starttls` stays false: the pin alone asks for STARTTLS (the sink requires it).
    let mut remote = mail_target(sink.port);
    remote.user = "gateway".into();
    remote.tls_cert_pem = Some(ca.cert_pem.clone());
    let (request, path) = send_request(remote.clone(), local.path(), "invoice 8.pdf", &bytes);
    let reply = transfer::send(&request, &password("s3cret"), None, &path).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    assert!(attachment(&String::from_utf8(received(&sink, 1)).unwrap()) == bytes, "the attachment changed");

    remote.tls_cert_pem = Some(TestCa::new("another CA").cert_pem);
    let (request, path) = send_request(remote, local.path(), "invoice 9.pdf", &bytes);
    let error = transfer::send(&request, &password("s3cret"), None, &path).await.unwrap_err();
    assert!(!error.transient && error.detail.contains("certificate"), "{error:?}");
    assert!(!sink.dir.path().join("2.eml").exists(), "nothing went to a server the pin does not vouch for");
}
