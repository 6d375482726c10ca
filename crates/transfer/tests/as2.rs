//! Send by AS2 to pyas2lib as the receiver (`crates/as2/tests/py/pyas2lib_peer.py
//! serve`, from the virtualenv `tests/run` makes): the payload arrives, the signed
//! MDN and its MIC verify; an MDN signed by another certificate fails the send.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use envelope::{As2Send, RemoteProtocol, RemoteTarget};
use support::{password, python, send_request, target};

const US: &str = "Portcullis Gateway";
const ACME: &str = "ACME";

/// pyas2lib receiving as [`ACME`] from [`US`]; killed on drop.
struct Receiver {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (certificate, key) PEM, also written as `<name>.crt` and `<name>.pem` (key and
/// certificate) for pyas2lib.
fn identity(dir: &Path, name: &str) -> (String, String) {
    let (cert, key) = as2::identity::self_signed(name, 30).unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), &cert).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), format!("{key}{cert}")).unwrap();
    (cert, key)
}

fn receiver(dir: &Path) -> Receiver {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../as2/tests/py/pyas2lib_peer.py");
    let inbox = dir.join("inbox");
    let mut child = std::process::Command::new(python())
        .arg(script)
        .args(["serve", "--dir", inbox.to_str().unwrap(), "--org", ACME, "--partner", US])
        .args([Path::new("--org-key"), &dir.join("acme.pem"), Path::new("--partner-cert"), &dir.join("us.crt")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with pyas2lib (run tests/run, which installs it)");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok());
    Receiver { port: port.unwrap_or_else(|| panic!("pyas2lib did not start: {line:?}")), dir: inbox, child }
}

fn as2_target(port: u16, us: &(String, String), acme_cert: &str) -> RemoteTarget {
    let mut remote = target(RemoteProtocol::As2, port, "");
    remote.url_path = Some("/as2".into());
    remote.as2 = Some(As2Send {
        our_id: US.into(),
        partner_id: ACME.into(),
        our_cert_pem: us.0.clone(),
        partner_cert_pem: acme_cert.into(),
        sign: true,
        encrypt: true,
        compress: true,
        signed_mdn: true,
    });
    remote
}

#[tokio::test]
async fn pyas2lib_takes_the_file_and_its_mdn_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let us = identity(dir.path(), "us");
    let (acme_cert, _) = identity(dir.path(), "acme");
    let receiver = receiver(dir.path());
    let bytes = b"UNA:+.? '\r\nUNB+UNOC:3+US+ACME'\nbinary\x00\xff\r\n".repeat(1000);
    let (request, path) = send_request(as2_target(receiver.port, &us, &acme_cert), dir.path(), "order.edi", &bytes);
    let reply = transfer::send(&request, &password(""), Some(&us.1), &path).await.unwrap();
    assert!(reply.starts_with("signed MDN processed, MIC ok (Message-ID "), "{reply}");
    assert_eq!(std::fs::read(receiver.dir.join("1.bin")).unwrap(), bytes, "the payload arrived unchanged");
    let record = std::fs::read_to_string(receiver.dir.join("1.json")).unwrap();
    assert!(record.contains("order.edi"), "{record}");

    // An MDN signed by a certificate other than the partner's fails, permanently.
    let (stranger, _) = identity(dir.path(), "stranger");
    let mut remote = as2_target(receiver.port, &us, &stranger);
    if let Some(as2) = remote.as2.as_mut() {
        as2.encrypt = false;
    }
    let (request, path) = send_request(remote, dir.path(), "order2.edi", &bytes);
    let error = transfer::send(&request, &password(""), Some(&us.1), &path).await.unwrap_err();
    assert!(!error.transient && error.detail.contains("MDN signature"), "{error:?}");
}

#[tokio::test]
async fn nobody_listening_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let us = identity(dir.path(), "us");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (request, path) = send_request(as2_target(port, &us, &us.0), dir.path(), "x.edi", b"x");
    let error = transfer::send(&request, &password(""), Some(&us.1), &path).await.unwrap_err();
    assert!(error.transient, "{error:?}");
}
