//! The SMTP sender against a real server: aiosmtpd (`tests/py/sink.py`, from the
//! virtualenv `tests/run` makes), plain, with STARTTLS + AUTH, and refusing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smtp::{SmtpTarget, SmtpTls, send};

/// A running sink; killed on drop.
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

fn python() -> PathBuf {
    std::env::var_os("PORTCULLIS_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/.venv/bin/python"))
}

/// Starts the sink with `args` and waits for its "READY <port>" line.
fn sink(args: &[&str]) -> Sink {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sink.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg("--dir")
        .arg(dir.path())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with aiosmtpd (run tests/run, which installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("sink output");
    let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok());
    let port = port.unwrap_or_else(|| panic!("the sink did not start: {line:?}"));
    Sink { child, port, dir }
}

fn target(port: u16, tls: SmtpTls, credentials: Option<(&str, &str)>) -> SmtpTarget {
    SmtpTarget {
        host: "127.0.0.1".into(),
        port,
        tls,
        accept_invalid_certs: true,
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        hello_name: "dmz.test".into(),
        timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(10),
    }
}

/// A message with lines that need dot-stuffing and a body of `size` bytes.
fn message(size: usize) -> Vec<u8> {
    let mut text =
        String::from("From: us@dmz.test\r\nTo: them@partner.test\r\nSubject: ack\r\n\r\n.dot\r\n..\r\n.\r\n");
    while text.len() < size {
        text.push_str("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n");
    }
    text.into_bytes()
}

/// Waits for the sink's `n`th message: (bytes, envelope JSON).
fn received(sink: &Sink, n: usize) -> (Vec<u8>, String) {
    let (eml, json) = (sink.dir.path().join(format!("{n}.eml")), sink.dir.path().join(format!("{n}.json")));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !eml.exists() {
        assert!(Instant::now() < deadline, "message {n} never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    (std::fs::read(eml).expect("eml"), std::fs::read_to_string(json).expect("json"))
}

#[tokio::test]
async fn a_message_arrives_byte_identical_in_clear_text() {
    let sink = sink(&[]);
    let bytes = message(200_000);
    let to = vec!["them@partner.test".to_owned(), "other@partner.test".to_owned()];
    let sent = send(&target(sink.port, SmtpTls::None, None), "us@dmz.test", &to, &bytes).await.expect("send");
    assert_eq!(sent.code, 250);
    let (got, envelope) = received(&sink, 1);
    assert!(got == bytes, "dot-stuffing undone, nothing changed: {} bytes sent, {} received", bytes.len(), got.len());
    assert!(envelope.contains("\"us@dmz.test\"") && envelope.contains("other@partner.test"), "{envelope}");
}

#[tokio::test]
async fn starttls_and_auth_are_used_when_the_server_requires_them() {
    let certs = tempfile::tempdir().expect("tempdir");
    let key_pair = rcgen::KeyPair::generate().expect("key");
    let cert =
        rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).expect("params").self_signed(&key_pair).expect("cert");
    let (cert_file, key_file) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).expect("cert file");
    std::fs::write(&key_file, key_pair.serialize_pem()).expect("key file");
    let (cert_arg, key_arg) = (cert_file.to_string_lossy().into_owned(), key_file.to_string_lossy().into_owned());
    let sink = sink(&["--cert", &cert_arg, "--key", &key_arg, "--user", "dmz", "--password", "s3cret"]);
    let to = vec!["them@partner.test".to_owned()];
    let bytes = message(1000);

    let secure = target(sink.port, SmtpTls::StartTls, Some(("dmz", "s3cret")));
    send(&secure, "us@dmz.test", &to, &bytes).await.expect("send over STARTTLS with AUTH");
    assert!(received(&sink, 1).0 == bytes, "the message arrived changed");

    let started = Instant::now();
    let wrong = target(sink.port, SmtpTls::StartTls, Some(("dmz", "wrong")));
    assert!(send(&wrong, "us@dmz.test", &to, &bytes).await.is_err(), "a wrong password is refused");
    assert!(started.elapsed() < Duration::from_secs(20), "the deadline bounds a stalled session");
    let clear = target(sink.port, SmtpTls::None, Some(("dmz", "s3cret")));
    assert!(send(&clear, "us@dmz.test", &to, &bytes).await.is_err(), "the server insists on STARTTLS");
    assert!(!received(&sink, 1).1.is_empty() && !sink.dir.path().join("2.eml").exists(), "only the first arrived");
}

#[tokio::test]
async fn replies_say_whether_a_retry_may_help() {
    let to = vec!["them@partner.test".to_owned()];
    let busy = sink(&["--reply", "451 4.3.0 try again later"]);
    let error = send(&target(busy.port, SmtpTls::None, None), "us@dmz.test", &to, b"x\r\n").await.expect_err("451");
    assert!(error.transient && error.code == Some(451), "{error:?}");
    let no = sink(&["--reply", "554 5.7.1 rejected"]);
    let error = send(&target(no.port, SmtpTls::None, None), "us@dmz.test", &to, b"x\r\n").await.expect_err("554");
    assert!(!error.transient && error.code == Some(554), "{error:?}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let error = send(&target(port, SmtpTls::None, None), "us@dmz.test", &to, b"x\r\n").await.expect_err("nobody there");
    assert!(error.transient, "a server that is down is worth another try: {error:?}");
}
