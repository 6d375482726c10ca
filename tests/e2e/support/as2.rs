//! AS2 partners: the pyas2lib script (`crates/as2/tests/py/pyas2lib_peer.py`) builds
//! messages and judges our MDNs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::clients::python;

/// Runs the pyas2lib partner script (crates/as2/tests/py/pyas2lib_peer.py).
pub fn peer(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/as2/tests/py/pyas2lib_peer.py");
    let output = python().arg(script).args(args).output().expect("python");
    assert!(output.status.success(), "pyas2lib_peer {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A message pyas2lib built: headers, body and its state file.
pub struct Built {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub state: PathBuf,
}

pub fn build(dir: &Path, name: &str, bytes: &[u8], extra: &[&str]) -> Built {
    let (out, file) = (dir.join(name), dir.join(format!("{name}.payload")));
    std::fs::write(&file, bytes).expect("payload");
    let mut args = vec!["build", "--out", out.to_str().expect("utf-8"), "--payload", file.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    peer(&args);
    let headers: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(out.join("headers.json")).expect("headers")).expect("json");
    let headers = headers.into_iter().map(|(n, v)| (n, v.as_str().unwrap_or_default().to_owned())).collect();
    Built { headers, body: std::fs::read(out.join("body.bin")).expect("body"), state: out.join("state.json") }
}

/// POSTs a message to the DMZ; returns the HTTP status and the MDN as pyas2lib
/// reads it (headers, empty line, body).
pub async fn post(client: &reqwest::Client, url: &str, headers: &[(String, String)], body: Vec<u8>) -> (u16, Vec<u8>) {
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("POST /as2");
    let status = response.status().as_u16();
    let mut raw = Vec::new();
    for (name, value) in response.headers() {
        raw.extend_from_slice(format!("{name}: {}\r\n", value.to_str().unwrap_or_default()).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&response.bytes().await.expect("MDN body"));
    (status, raw)
}

/// pyas2lib's verdict on an MDN.
pub fn verdict(dir: &Path, built: &Built, mdn: &[u8], our_cert: &Path) -> Value {
    let file = dir.join(format!("mdn-{}", rand_suffix()));
    std::fs::write(&file, mdn).expect("mdn file");
    let state = built.state.to_str().expect("utf-8");
    let out = peer(&[
        "parse-mdn",
        "--state",
        state,
        "--mdn",
        file.to_str().expect("utf-8"),
        "--verify-cert",
        our_cert.to_str().expect("utf-8"),
    ]);
    serde_json::from_str(out.trim()).expect("verdict json")
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A self-signed RSA identity made with the `openssl` tool: (certificate file,
/// key file, pyas2lib's key+certificate file).
pub fn identity(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (cert, key, both) =
        (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")), dir.join(format!("{name}.pem")));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian: openssl)");
    assert!(status.status.success(), "openssl req: {}", String::from_utf8_lossy(&status.stderr));
    let pem = [std::fs::read(&key).expect("key"), std::fs::read(&cert).expect("cert")].concat();
    std::fs::write(&both, pem).expect("key + cert");
    (cert, key, both)
}

/// The partner's and our identities of a test partnership, as files.
pub struct Keys {
    pub partner_cert: PathBuf,
    /// pyas2lib's key + certificate file of the partner (it signs with it).
    pub partner_pem: PathBuf,
    pub our_cert: PathBuf,
    pub our_key: PathBuf,
}

pub fn keys(dir: &Path) -> Keys {
    let (partner_cert, _, partner_pem) = identity(dir, "partner");
    let (our_cert, our_key, _) = identity(dir, "us");
    Keys { partner_cert, partner_pem, our_cert, our_key }
}

/// The `[channels.as2]` table of a partnership from `partner_id` to `our_id`.
pub fn channel_table(keys: &Keys, partner_id: &str, our_id: &str) -> String {
    format!(
        "\n[channels.as2]\npartner_id = \"{partner_id}\"\nour_id = \"{our_id}\"\npartner_cert = \"{}\"\n\
         our_cert = \"{}\"\nour_key = \"{}\"\n",
        keys.partner_cert.display(),
        keys.our_cert.display(),
        keys.our_key.display()
    )
}
