//! `portcullis ctl send`: a file of a few MiB streamed to the inner with progress on
//! standard error, followed until the partner's HTTP server has it; `--no-wait
//! --json` prints the record at once; an unknown remote and a missing file are one
//! error line and exit status 1.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::outbound::{http_remote, wait_for_send};
use crate::support::partners::HttpSink;
use crate::support::{Cluster, ClusterOptions, free_port, payload};

/// Runs `portcullis ctl --admin ADMIN --token-file FILE ARGS…` off the runtime.
async fn ctl(admin: &str, token_file: &Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.env_remove("PORTCULLIS_ADMIN_TOKEN").args(["ctl", "--admin", admin, "--token-file"]);
    command.arg(token_file).args(args);
    tokio::task::spawn_blocking(move || command.output().expect("run portcullis ctl")).await.expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn cluster_with_web_remote() -> (Cluster, HttpSink) {
    let port = free_port();
    let sink = HttpSink::start(port).await;
    let options = ClusterOptions { channel_tables: http_remote("web", port, 2), ..ClusterOptions::default() };
    (Cluster::start(options).await, sink)
}

#[tokio::test(flavor = "multi_thread")]
async fn ctl_send_streams_a_file_with_progress_and_waits_for_its_delivery() {
    let (cluster, sink) = cluster_with_web_remote().await;
    let token = cluster.dir.path().join("admin.token");
    let bytes = payload(60, 3 * 1024 * 1024 + 17);
    let file = cluster.dir.path().join("payload.bin");
    std::fs::write(&file, &bytes).expect("write the file");
    let file = file.to_str().expect("a UTF-8 path");

    let output = ctl(&cluster.inner_admin, &token, &["send", "--channel", "demo", "--remote", "web", file]).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "ctl send failed: {stderr}");
    assert!(stderr.contains("uploaded payload.bin  3.0 MiB / 3.0 MiB  100%"), "{stderr}");
    assert!(!stderr.contains('\r'), "standard error is no terminal here: {stderr:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("ID ")), "{stdout}");
    let row: Vec<&str> = lines.get(1).map(|l| l.split_whitespace().collect()).unwrap_or_default();
    assert!(row.len() >= 7 && row[1..4] == ["demo", "web", "payload.bin"] && row[6] == "delivered", "{stdout}");
    let id = row[0];
    assert!(stderr.contains(&format!("send {id}: delivered")), "{stderr}");
    wait_for_send(&cluster, id, "delivered").await;
    let received = sink.received();
    assert_eq!(received.len(), 1, "the partner got {} requests", received.len());
    assert!(received[0].body == bytes, "the partner got other bytes ({} of {})", received[0].body.len(), bytes.len());

    let args = ["--json", "send", "--channel", "demo", "--remote", "web", "--name", "renamed.bin", "--no-wait", file];
    let output = ctl(&cluster.inner_admin, &token, &args).await;
    assert!(output.status.success(), "ctl send --no-wait failed: {}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).expect("the record as JSON");
    assert_eq!((&record["name"], &record["size"]), (&Value::from("renamed.bin"), &Value::from(bytes.len())));
    let id = record["id"].as_str().expect("an id");
    wait_for_send(&cluster, id, "delivered").await;
    assert!(sink.received().get(1).is_some_and(|r| r.body == bytes), "the second send did not arrive whole");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctl_send_to_an_unknown_remote_or_of_a_missing_file_exits_1() {
    let (cluster, sink) = cluster_with_web_remote().await;
    let token = cluster.dir.path().join("admin.token");
    let file = cluster.dir.path().join("small.bin");
    std::fs::write(&file, payload(61, 10_000)).expect("write the file");
    let file = file.to_str().expect("a UTF-8 path");

    let output = ctl(&cluster.inner_admin, &token, &["send", "--channel", "demo", "--remote", "nowhere", file]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.ends_with("error: channel demo has no remote \"nowhere\" (404)\n"), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));

    let missing = cluster.dir.path().join("missing.bin");
    let missing = missing.to_str().expect("a UTF-8 path");
    let output = ctl(&cluster.inner_admin, &token, &["send", "--channel", "demo", "--remote", "web", missing]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with(&format!("error: cannot open {missing}: ")), "{stderr}");
    assert!(sink.received().is_empty(), "something was sent");
}
