//! The SMTP sender against a real server: aiosmtpd (`tests/py/sink.py`, from the
//! virtualenv `tests/run` makes), plain, with STARTTLS + AUTH, with pinned
//! certificates, and refusing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smtp::{SmtpTarget, SmtpTls, SmtpTrust, send};

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
        trust: SmtpTrust::AcceptInvalid,
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

/// A port nobody listens on.
fn closed_port() -> u16 {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    closed.local_addr().expect("addr").port()
}

/// A certificate for `names` (PEM) and its key, self-signed or issued by `ca`.
fn certificate(names: &[&str], is_ca: bool, ca: Option<&rcgen::Issuer<'_, rcgen::KeyPair>>) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
    if is_ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let cert = match ca {
        Some(ca) => params.signed_by(&key, ca),
        None => params.self_signed(&key),
    };
    (cert.expect("cert").pem(), key.serialize_pem())
}

/// A sink that offers and requires STARTTLS with this certificate, and AUTH as
/// dmz / s3cret.
fn tls_sink(cert_pem: &str, key_pem: &str) -> Sink {
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_file, cert_pem).expect("cert file");
    std::fs::write(&key_file, key_pem).expect("key file");
    let (cert_arg, key_arg) = (cert_file.to_string_lossy().into_owned(), key_file.to_string_lossy().into_owned());
    // The sink reads both files before it says READY.
    sink(&["--cert", &cert_arg, "--key", &key_arg, "--user", "dmz", "--password", "s3cret"])
}

/// STARTTLS + AUTH as dmz / s3cret to `port`, trusting `trust`.
fn secure(port: u16, trust: SmtpTrust) -> SmtpTarget {
    SmtpTarget { trust, ..target(port, SmtpTls::StartTls, Some(("dmz", "s3cret"))) }
}

#[tokio::test]
async fn starttls_and_auth_are_used_when_the_server_requires_them() {
    let (cert, key) = certificate(&["127.0.0.1"], false, None);
    let sink = tls_sink(&cert, &key);
    let to = vec!["them@partner.test".to_owned()];
    let bytes = message(1000);

    send(&secure(sink.port, SmtpTrust::AcceptInvalid), "us@dmz.test", &to, &bytes)
        .await
        .expect("send over STARTTLS with AUTH");
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
    let error = send(&target(closed_port(), SmtpTls::None, None), "us@dmz.test", &to, b"x\r\n")
        .await
        .expect_err("nobody there");
    assert!(error.transient, "a server that is down is worth another try: {error:?}");
}

#[tokio::test]
async fn the_pinned_certificate_alone_is_trusted() {
    let (cert, key) = certificate(&["127.0.0.1"], false, None);
    let sink = tls_sink(&cert, &key);
    let to = vec!["them@partner.test".to_owned()];
    let bytes = message(1000);
    let pinned = secure(sink.port, SmtpTrust::Pinned(cert.clone()));
    send(&pinned, "us@dmz.test", &to, &bytes).await.expect("the server's own certificate, pinned");
    assert!(received(&sink, 1).0 == bytes, "the message arrived changed");

    let (other, _) = certificate(&["127.0.0.1"], false, None);
    for trust in [SmtpTrust::Pinned(other), SmtpTrust::System] {
        let error = send(&secure(sink.port, trust), "us@dmz.test", &to, &bytes).await.expect_err("not trusted");
        assert!(!error.transient && error.reason.contains("certificate"), "a refused certificate is final: {error:?}");
    }
    assert!(!sink.dir.path().join("2.eml").exists(), "nothing went to an untrusted server");
}

#[tokio::test]
async fn a_pinned_ca_vouches_for_what_it_issued_for_this_host_only() {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_pem = ca_params.self_signed(&ca_key).expect("CA").pem();
    let ca = rcgen::Issuer::new(ca_params, ca_key);
    let to = vec!["them@partner.test".to_owned()];
    let bytes = message(1000);

    let (cert, key) = certificate(&["127.0.0.1"], false, Some(&ca));
    let sink = tls_sink(&cert, &key);
    let pinned = secure(sink.port, SmtpTrust::Pinned(ca_pem.clone()));
    send(&pinned, "us@dmz.test", &to, &bytes).await.expect("a certificate the pinned CA issued");
    assert!(received(&sink, 1).0 == bytes, "the message arrived changed");

    let (misnamed, key) = certificate(&["partner.test"], false, Some(&ca));
    let sink = tls_sink(&misnamed, &key);
    let error = send(&secure(sink.port, SmtpTrust::Pinned(ca_pem)), "us@dmz.test", &to, &bytes).await;
    let error = error.expect_err("issued for another name");
    assert!(!error.transient && error.reason.contains("not valid for name"), "final: {error:?}");
    // A self-signed CA certificate cannot be pinned as the server's own (webpki:
    // CaUsedAsEndEntity); the header of send.rs says so.
    let (own_ca, key) = certificate(&["127.0.0.1"], true, None);
    let sink = tls_sink(&own_ca, &key);
    let error = send(&secure(sink.port, SmtpTrust::Pinned(own_ca)), "us@dmz.test", &to, &bytes).await;
    let error = error.expect_err("a CA as the server's certificate");
    assert!(!error.transient && error.reason.contains("CaUsedAsEndEntity"), "final: {error:?}");
}

#[tokio::test]
async fn a_pin_that_is_no_certificate_or_without_tls_fails_before_connecting() {
    let port = closed_port();
    let to = vec!["them@partner.test".to_owned()];
    let no_pem = secure(port, SmtpTrust::Pinned("not a certificate".into()));
    let (cert, _) = certificate(&["127.0.0.1"], false, None);
    let in_clear = SmtpTarget { tls: SmtpTls::None, ..secure(port, SmtpTrust::Pinned(cert)) };
    for target in [no_pem, in_clear] {
        let error = send(&target, "us@dmz.test", &to, b"x\r\n").await.expect_err("refused");
        assert!(!error.transient, "not a connection problem: {error:?}");
    }
}
