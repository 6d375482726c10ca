//! What the AS2 integration tests share: test identities (RSA keys and self-signed
//! certificates made with openssl), an in-memory [`As2Gateway`], the real `serve()`
//! on 127.0.0.1:0, and the pyas2lib partner script.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use as2::{As2Config, As2Outbound, Cipher, MdnRequest, MicAlg};
use async_trait::async_trait;
use envelope::{EnvelopeId, Sha256};
use partner::{As2Delivery, As2Gateway, As2LookupError, As2Outcome, As2Partnership, FsError, Peer, Receipt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Our AS2 name and the partner's.
pub const US: &str = "PORTCULLIS";
pub const ACME: &str = "Acme EU";

/// A key pair and self-signed certificate, also written as files for pyas2lib:
/// `<name>.crt` (certificate) and `<name>.pem` (key followed by certificate).
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

pub fn identity(dir: &Path, name: &str) -> Identity {
    let (cert_pem, key_pem) = as2::identity::self_signed(name, 365).expect("identity");
    let cert_file = dir.join(format!("{name}.crt"));
    let key_file = dir.join(format!("{name}.pem"));
    std::fs::write(&cert_file, &cert_pem).expect("write cert");
    std::fs::write(&key_file, format!("{key_pem}{cert_pem}")).expect("write key");
    Identity { cert_pem, key_pem, cert_file, key_file }
}

/// The partnership between `partner` (sending as [`ACME`]) and `us` (as [`US`]).
pub fn partnership(partner: &Identity, us: &Identity) -> As2Partnership {
    As2Partnership {
        channel: "acme".into(),
        partner_id: ACME.into(),
        our_id: US.into(),
        partner_cert_pem: partner.cert_pem.clone(),
        our_cert_pem: us.cert_pem.clone(),
        our_key_pem: us.key_pem.clone(),
        require_signed: false,
        require_encrypted: false,
    }
}

/// Our sender's partnership as `our_id` (signing with `ours`) to `partner_id`
/// (certificate of `theirs`) at `url`: signed, encrypted (AES-256), SHA-256, a signed
/// synchronous MDN.
pub fn outbound(our_id: &str, ours: &Identity, partner_id: &str, theirs: &Identity, url: &str) -> As2Outbound {
    As2Outbound {
        our_id: our_id.into(),
        partner_id: partner_id.into(),
        our_cert_pem: ours.cert_pem.clone(),
        our_key_pem: ours.key_pem.clone(),
        partner_cert_pem: theirs.cert_pem.clone(),
        url: url.into(),
        sign: true,
        encrypt: true,
        compress: false,
        digest: MicAlg::Sha256,
        cipher: Cipher::Aes256Cbc,
        mdn: MdnRequest::Sync { signed: true },
        timeout: std::time::Duration::from_secs(60),
    }
}

/// An in-memory gateway: partnerships by (from, to), deliveries kept, duplicates
/// detected by (from, Message-ID).
#[derive(Default)]
pub struct FakeGateway {
    pub partnerships: Mutex<HashMap<(String, String), Arc<As2Partnership>>>,
    /// Senders whose keys are "not loaded yet".
    pub keys_not_loaded: Mutex<HashSet<String>>,
    /// `deliver` answers `Unavailable` while set.
    pub unavailable: AtomicBool,
    /// Deliveries refused while unavailable.
    pub refused: std::sync::atomic::AtomicUsize,
    pub deliveries: Mutex<Vec<As2Delivery>>,
    seen: Mutex<HashSet<(String, String)>>,
}

impl FakeGateway {
    pub fn with(partnership: As2Partnership) -> Arc<FakeGateway> {
        let gateway = FakeGateway::default();
        gateway.add(partnership);
        Arc::new(gateway)
    }

    pub fn add(&self, partnership: As2Partnership) {
        let key = (partnership.partner_id.clone(), partnership.our_id.clone());
        self.partnerships.lock().expect("lock").insert(key, Arc::new(partnership));
    }

    pub fn deliveries(&self) -> Vec<As2Delivery> {
        self.deliveries.lock().expect("lock").clone()
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    pub fn refusals(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl As2Gateway for FakeGateway {
    fn partnership(&self, _peer: Peer, from: &str, to: &str) -> Result<Arc<As2Partnership>, As2LookupError> {
        if self.keys_not_loaded.lock().expect("lock").contains(from) {
            return Err(As2LookupError::KeysNotLoaded);
        }
        let partnerships = self.partnerships.lock().expect("lock");
        partnerships.get(&(from.to_owned(), to.to_owned())).cloned().ok_or(As2LookupError::UnknownPartner)
    }

    async fn deliver(&self, delivery: As2Delivery) -> Result<As2Outcome, FsError> {
        if self.unavailable.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(FsError::Unavailable("test: spool unavailable".into()));
        }
        if !self.seen.lock().expect("lock").insert((delivery.from.clone(), delivery.message_id.clone())) {
            return Ok(As2Outcome::Duplicate);
        }
        let size = delivery.payload.len();
        self.deliveries.lock().expect("lock").push(delivery);
        Ok(As2Outcome::Accepted(Receipt { id: EnvelopeId::generate(), size, sha256: Sha256([0; 32]) }))
    }
}

/// The real AS2 server on 127.0.0.1:0.
pub struct Server {
    pub url: String,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

pub async fn start(gateway: Arc<FakeGateway>, config: As2Config) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}{}", listener.local_addr().expect("addr"), as2::AS2_PATH);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(as2::serve(listener, config, gateway, shutdown.clone()));
    Server { url, shutdown, task }
}

impl Server {
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("join").expect("serve");
    }
}

/// An HTTP response as pyas2lib wants an MDN: headers, empty line, body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub async fn from(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ascii header").to_owned()))
            .collect();
        let body = response.bytes().await.expect("body").to_vec();
        Answer { status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn raw(&self) -> Vec<u8> {
        let mut raw = Vec::new();
        for (name, value) in &self.headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&self.body);
        raw
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// POSTs `headers` and `body`.
pub async fn post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Answer {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    Answer::from(request.send().await.expect("POST")).await
}

/// The Python with pyas2lib: `PORTCULLIS_TEST_PYTHON`, else `<repo>/tests/.venv`.
pub fn python() -> Command {
    let python = std::env::var_os("PORTCULLIS_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/.venv/bin/python"));
    assert!(
        python.exists(),
        "{} missing: run the tests through tests/run, which makes it (pip: pyas2lib cryptography)",
        python.display()
    );
    Command::new(python)
}

/// `python tests/py/pyas2lib_peer.py <args>`, which must succeed; its stdout.
pub fn peer(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/pyas2lib_peer.py");
    let output = python().arg(script).args(args).output().expect("run python");
    assert!(output.status.success(), "pyas2lib_peer.py {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf8")
}

/// A message pyas2lib built: its HTTP headers and body, and where its state is.
pub struct Built {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub state: PathBuf,
    pub message_id: String,
}

/// Builds a message with pyas2lib into `dir/<name>/`; `args` are `build` options.
pub fn build(dir: &Path, name: &str, payload: &[u8], args: &[&str]) -> Built {
    let out = dir.join(name);
    let payload_file = dir.join(format!("{name}.payload"));
    std::fs::write(&payload_file, payload).expect("write payload");
    let mut all =
        vec!["build", "--out", out.to_str().expect("utf8"), "--payload", payload_file.to_str().expect("utf8")];
    all.extend_from_slice(args);
    peer(&all);
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("headers.json")).expect("headers")).expect("json");
    let headers: Vec<(String, String)> =
        headers.into_iter().map(|(n, v)| (n, v.as_str().expect("string header").to_owned())).collect();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state.json")).expect("state")).expect("json");
    Built {
        headers,
        body: std::fs::read(out.join("body.bin")).expect("body"),
        state: out.join("state.json"),
        message_id: state["message_id"].as_str().expect("message id").to_owned(),
    }
}

/// pyas2lib's verdict on an MDN: `status`, `detail`, `mic_matched`, …
pub fn parse_mdn(
    dir: &Path,
    built: &Built,
    mdn: &[u8],
    verify_cert: &Path,
    accept_unsigned: bool,
) -> serde_json::Value {
    let file = dir.join(format!("mdn-{}", built.message_id));
    std::fs::write(&file, mdn).expect("write mdn");
    let mut args = vec![
        "parse-mdn",
        "--state",
        built.state.to_str().expect("utf8"),
        "--mdn",
        file.to_str().expect("utf8"),
        "--verify-cert",
        verify_cert.to_str().expect("utf8"),
    ];
    if accept_unsigned {
        args.push("--accept-unsigned");
    }
    serde_json::from_str(peer(&args).trim()).expect("json verdict")
}

/// pyas2lib as an AS2 receiver (`pyas2lib_peer.py serve`): payloads land in `dir`
/// as `<n>.bin` with `<n>.json`. Killed when dropped.
pub struct Pyas2libReceiver {
    pub url: String,
    pub dir: PathBuf,
    child: std::process::Child,
}

impl Pyas2libReceiver {
    /// Receives as `org` (decrypting and signing MDNs with `org_key`) from `partner`
    /// (verified with `partner_cert`).
    pub fn start(dir: &Path, org: &str, org_key: &Path, partner: &str, partner_cert: &Path) -> Pyas2libReceiver {
        use std::io::BufRead as _;

        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/pyas2lib_peer.py");
        let mut child = python()
            .arg(script)
            .args(["serve", "--dir", dir.to_str().expect("utf8"), "--org", org, "--partner", partner])
            .args([Path::new("--org-key"), org_key, Path::new("--partner-cert"), partner_cert])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start pyas2lib_peer.py serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        // Blocks until the server listens, or exits (EOF: its error is on stderr).
        std::io::BufReader::new(stdout).read_line(&mut line).expect("read READY");
        let Some(port) = line.trim().strip_prefix("READY ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pyas2lib_peer.py serve did not start: {line:?}");
        };
        Pyas2libReceiver { url: format!("http://127.0.0.1:{port}/as2"), dir: dir.to_owned(), child }
    }

    /// The `n`-th message received (from 1): its record and, if processed, payload.
    pub fn received(&self, n: usize) -> (serde_json::Value, Option<Vec<u8>>) {
        let record = std::fs::read(self.dir.join(format!("{n}.json"))).expect("record of the message");
        let payload = std::fs::read(self.dir.join(format!("{n}.bin"))).ok();
        (serde_json::from_slice(&record).expect("json"), payload)
    }
}

impl Drop for Pyas2libReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A partner's endpoint for asynchronous MDNs (axum on 127.0.0.1:0, `POST /mdn`).
pub struct MdnEndpoint {
    pub url: String,
    arrivals: tokio::sync::mpsc::UnboundedReceiver<(axum::http::HeaderMap, axum::body::Bytes)>,
    task: JoinHandle<std::io::Result<()>>,
}

impl MdnEndpoint {
    pub async fn start() -> MdnEndpoint {
        use axum::body::Bytes;
        use axum::http::HeaderMap;

        let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
        let app = axum::Router::new().route(
            "/mdn",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
                let _ = arrived.send((headers, body));
                "thanks"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/mdn", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        MdnEndpoint { url, arrivals, task }
    }

    /// The next MDN POSTed (within 30 s): headers and body.
    pub async fn next(&mut self) -> (axum::http::HeaderMap, axum::body::Bytes) {
        tokio::time::timeout(std::time::Duration::from_secs(30), self.arrivals.recv())
            .await
            .expect("MDN posted in time")
            .expect("MDN")
    }
}

impl Drop for MdnEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}
