//! Mail partners: the smtplib script (`tests/e2e/py/smtp_client.py`), swaks, test
//! messages, and finding delivered mails through the inner's journal.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::cluster::Cluster;
use super::http::get_json;
use super::{payload, wait_for};

/// A message with CRLF line ends, lines that need dot-stuffing, and `body_bytes`
/// of base64-like text, identified by `Message-ID: <seed@partner.test>`.
pub fn message(seed: u64, body_bytes: usize) -> Vec<u8> {
    let mut text = format!(
        "From: Partner <sender@partner.test>\r\nTo: demo@dmz.test\r\nSubject: test {seed}\r\n\
         Message-ID: <{seed}@partner.test>\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n \r\nend of the dots\r\n"
    );
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in payload(seed, body_bytes).chunks(76) {
        text.extend(chunk.iter().map(|b| alphabet[usize::from(*b) % 64] as char));
        text.push_str("\r\n");
    }
    text.into_bytes()
}

/// Sends `file` with smtplib to `to`; `extra` are further script options
/// (`--starttls`, `--user U --password W`). Returns the script's JSON line.
pub fn smtplib_send(cluster: &Cluster, to: &[&str], extra: &[&str], file: &Path) -> Value {
    let mut command = super::clients::python();
    command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/py/smtp_client.py")).args([
        "send",
        "--port",
        &cluster.ports.smtp.to_string(),
        "--from",
        "sender@partner.test",
    ]);
    for address in to {
        command.args(["--to", address]);
    }
    let output = command.args(extra).arg(file).stdin(Stdio::null()).output().expect("python");
    parse_json(&output, cluster)
}

/// The attachments of a delivered .eml as (file name, sha256 hex), by Python's
/// `email` package.
pub fn attachments(eml: &Path) -> Vec<(String, String)> {
    let output = super::clients::python()
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/py/smtp_client.py"))
        .arg("attachment")
        .arg(eml)
        .output()
        .expect("python");
    assert!(output.status.success(), "attachment parse failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let pair = |line: &str| line.rsplit_once(' ').map(|(n, h)| (n.to_owned(), h.to_owned()));
    text.lines().filter_map(pair).collect()
}

/// Runs `swaks` against the cluster's SMTP port with `args`.
pub fn swaks(cluster: &Cluster, args: &[&str]) -> Output {
    Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{}", cluster.ports.smtp), "--ehlo", "partner.test"])
        .args(["--timeout", "60"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("swaks (apt: swaks)")
}

/// Waits until the journal holds `count` SMTP deliveries; returns them.
pub async fn smtp_records(cluster: &Cluster, count: usize) -> Vec<Value> {
    let url = format!("{}/api/v1/deliveries", cluster.inner_admin);
    wait_for(&format!("{count} mails in the journal"), Duration::from_secs(60), || async {
        let records = get_json(&cluster.client, &url).await?;
        let mails: Vec<Value> = records.as_array()?.iter().filter(|r| r["protocol"] == "smtp").cloned().collect();
        (mails.len() >= count).then_some(mails)
    })
    .await
}

fn parse_json(output: &Output, cluster: &Cluster) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "smtp client printed no JSON:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            cluster.logs()
        )
    })
}
